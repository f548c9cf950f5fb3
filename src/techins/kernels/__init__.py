"""Numba kernels: pure ``@njit`` functions over arrays and scalars. No pandas, no I/O here.

Numba's on-disk cache checks only the file that defines a function, not the files of the kernels it
calls and inlines; a changed sampler would then hide behind a stale cached year loop. So at import
the cache is dropped whenever any kernel source differs from the last import's.
"""

import hashlib
from pathlib import Path


def _drop_stale_numba_cache() -> None:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    cache = here / "__pycache__"
    stamp = cache / "kernels-source.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for pattern in ("*.nbi", "*.nbc"):
            for stale in cache.glob(pattern):
                stale.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only install: Numba then caches elsewhere or not at all
        pass


_drop_stale_numba_cache()
