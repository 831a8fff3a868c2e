"""Command-line entry points (absl): flag definitions and thin `main`s, no logic of their own."""
