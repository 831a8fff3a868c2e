"""Infrastructure every layer may use: crash-safe storage, fault injection, run claims, seeding,
the machine's description, Markdown tables, Keras compatibility."""
