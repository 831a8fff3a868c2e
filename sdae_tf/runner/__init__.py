"""One configured run end to end (`sdae-train`): validation, data, the zoo model, the run
directory, the stages, figures, evaluation, export."""
