"""Write the structural facts of Stamped's V3 OpenAPI files to stamped_v3_reference.json.

Only what the tests check is kept: paths, methods, operation ids, parameters (name,
place, schema) and request and answer schemas. The vendor's prose and examples
(descriptions, summaries, titles, examples) are dropped. Run it when the reference in
``../shared/api-docs/stamped-v3/`` changes::

    python tests/data/extract_stamped_v3.py /work/shared/api-docs/stamped-v3
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FILES = ["stamped-loyalty-operations-openapi.json", "stamped-merchant-data-openapi.json"]
PROSE = {"description", "summary", "title", "example", "examples", "x-codeSamples", "tags"}
OUT = Path(__file__).with_name("stamped_v3_reference.json")


def strip(node: Any) -> Any:
    """``node`` without prose or examples, at any depth."""
    if isinstance(node, dict):
        return {
            # Under "properties" the keys are field names ("title" may be one), not prose.
            k: {n: strip(p) for n, p in v.items()} if k == "properties" else strip(v)
            for k, v in node.items()
            if k not in PROSE or (k == "properties")
        }
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def extract(reference: Path) -> dict[str, Any]:
    """The facts of each OpenAPI file, by file name."""
    out = {}
    for name in FILES:
        spec = json.loads((reference / name).read_text())
        out[name] = {
            "paths": strip(spec["paths"]),
            "components": {"schemas": strip(spec["components"]["schemas"])},
        }
    return out


if __name__ == "__main__":
    OUT.write_text(json.dumps(extract(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")
