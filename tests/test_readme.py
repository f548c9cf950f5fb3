"""The README's Python examples run as written (docs must not drift from the code)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["priced"].technical_premium.gt(0).all()
    assert abs(namespace["sim"].mean() - namespace["ex"].mean()) < 4 * namespace["sim"].stderr("mean")
