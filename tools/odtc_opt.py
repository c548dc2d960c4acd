"""odtc-opt: run odtc passes on qtrain IR, like mlir-opt.

    odtc-opt model.mlir -p qtrain-fold-batchnorm
    odtc-opt model.mlir -p "$(odtc compile --print-pipeline)" --print-between-passes

Errors (unparsable input, failed verifier, unknown pass, failed pass) print one line on
stderr and exit with status 1; `--verify-diagnostics` prints them on stdout and exits 0, for
lit tests.
"""

import sys
from collections.abc import Sequence

from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError
from xdsl.targets.mlir import MLIRTarget
from xdsl.xdsl_opt_main import xDSLOptMain

from odtc.compiler.context import make_context
from odtc.passes import get_all_passes


class OdtcOptMain(xDSLOptMain):
    """xDSLOptMain with odtc's dialects, passes and targets only."""

    version_format = "odtc-opt (xdsl {xdsl_version})"

    def register_all_dialects(self) -> None:
        fresh = make_context()
        for dialect in fresh.loaded_dialects:
            self.ctx.load_dialect(dialect)

    def register_all_passes(self) -> None:
        for name, factory in get_all_passes().items():
            self.register_pass(name, factory)

    def register_all_targets(self) -> None:
        from odtc.compiler.emit_c import CTarget

        self.available_targets["mlir"] = lambda: MLIRTarget
        self.available_targets["c"] = lambda: CTarget


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # xDSL diagnostics print the IR around the error; the message is the line that names
    # the problem. Keep the location line for parse errors (file:line:col).
    if isinstance(exc, ParseError) and lines:
        loc = lines[0]
        msg = lines[-1].strip()
        return f"{loc} {msg}" if msg != loc else loc
    for ln in reversed(lines):
        if ln.strip() and not ln.strip().startswith(("^", "~")):
            return ln.strip()
    return type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        OdtcOptMain(description="odtc-opt: qtrain pass driver", args=argv).run()
    except SystemExit:
        raise
    except (ParseError, ArgSpecParseError) as exc:
        print(f"odtc-opt: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except DiagnosticException as exc:
        print(f"odtc-opt: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except (ValueError, OSError, KeyError) as exc:
        print(f"odtc-opt: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
