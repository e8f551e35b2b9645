class LabError(RuntimeError):
    """A problem the learner can fix; the message says how. Shown without a traceback."""
