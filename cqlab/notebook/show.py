"""Show the sandbox code a notebook is about to call: its source, highlighted, where the learner reads."""

import inspect

from IPython.display import Markdown


def show_source(*objects, lines: tuple[int, int] | None = None) -> Markdown:
    """Render the source of sandbox functions, classes, tasks or modules as one code block.

    A Celery task shows the function it wraps, decorator included. `lines` (first, last; 1-based,
    inclusive) cuts a module down to the block being taught, e.g. one settings dict.
    """
    parts = []
    for obj in objects:
        obj = inspect.unwrap(getattr(obj, "run", obj))  # a task's own function, under its decorators
        source, first = inspect.getsourcelines(obj)
        if lines:
            start = max(first, 1)  # a module's source starts at line 1 (inspect says 0)
            source = source[lines[0] - start : lines[1] - start + 1]
        path = inspect.getsourcefile(obj).split("sandbox_project/", 1)[-1]
        parts.append(f"# {path}\n" + "".join(source).rstrip())
    return Markdown("```python\n" + "\n\n".join(parts) + "\n```")
