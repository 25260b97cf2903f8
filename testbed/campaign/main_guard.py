"""Whether ``stress(jobs>1)`` was called from a script's top level without ``if __name__ == "__main__":``.

Worker processes come from multiprocessing's forkserver, which (like its
``spawn`` method, the default on macOS and Windows) imports the main
script again in the new processes, as ``__mp_main__``: a campaign started
by the script's unguarded top level would start again there.  Python then
fails each worker's start with a long traceback while the campaign sees
its workers die; here the call is refused first, with one line saying
what to do.  A script that runs the campaign under the guard, or from a
function that the guarded block calls, is what the multiprocessing
documentation asks for ("Safe importing of main module"), and works.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

__all__ = ["unguarded_script"]


def _is_main_guard(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either operand order)."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    operands = {ast.dump(test.left), ast.dump(test.comparators[0])}
    return operands == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}


def _top_level_frame(main_globals: dict[str, object]) -> FrameType | None:
    """The outermost frame running the main module's top-level code, if this call comes from there."""
    found = None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is main_globals and frame.f_code.co_name == "<module>":
            found = frame
        frame = frame.f_back
    return found


def unguarded_script() -> str | None:
    """The main script's path when the running call comes from its top level outside the guard, else None.

    None too when there is nothing a worker would import again (an
    interactive session, ``python -c``, a package's ``__main__``) or the
    source cannot be read.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec_name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if main is None or path is None or spec_name == "__main__" or spec_name.endswith(".__main__"):
        return None
    frame = _top_level_frame(vars(main))
    if frame is None:
        return None
    try:
        tree = ast.parse(Path(frame.f_code.co_filename).read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            return None if _is_main_guard(statement) else str(path)
    return None
