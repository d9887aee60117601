"""A software prefetch for Numba kernels: ask the CPU to start loading a row that a loop will touch a
few iterations later.

A kernel that scatters into rows chosen by an index array (a tick moving its positions' pools) waits on
a cache miss a row; its long loop body leaves the CPU room for only a few misses in flight. Hinting the
row some iterations ahead overlaps the misses. The hint changes no result: it is LLVM's ``prefetch``
intrinsic (read-write, keep in all cache levels), a no-op where the target lacks one.
"""

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


@intrinsic
def _prefetch_row(typingctx: Any, array: Any, row: Any) -> Any:
    """Prefetch (for writing) the first element of ``array[row]`` (``array`` of any rank)."""
    signature = types.void(array, row)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        array_type, row_type = sig.args
        data = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], row_type, types.intp)
        zero = ir.Constant(index.type, 0)
        indices = [index] + [zero] * (array_type.ndim - 1)
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, indices, wraparound=False)
        byte_pointer = ir.PointerType(ir.IntType(8))
        i32 = ir.IntType(32)
        hint_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        hint = cgutils.get_or_insert_function(builder.module, hint_type, "llvm.prefetch.p0")
        write, keep_everywhere, data_cache = ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)
        builder.call(hint, [builder.bitcast(pointer, byte_pointer), write, keep_everywhere, data_cache])
        return context.get_dummy_value()

    return signature, codegen


prefetch_row = cast(Callable[[Any, int], None], _prefetch_row)
"""``prefetch_row(array, row)`` inside a Numba kernel (typed for callers: the intrinsic's own signature
carries the typing context first)."""
