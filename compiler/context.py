"""The MLIR context odtc parses and transforms IR in."""

from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func

from odtc.dialects.ckern import CKern
from odtc.dialects.qtrain import QTrain


def make_context(allow_unregistered: bool = False) -> Context:
    """A fresh context with every dialect odtc reads or writes loaded."""
    ctx = Context(allow_unregistered=allow_unregistered)
    for dialect in (Builtin, Func, Arith, QTrain, CKern):
        ctx.load_dialect(dialect)
    return ctx
