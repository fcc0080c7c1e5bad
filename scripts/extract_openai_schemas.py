"""Bring the OpenAI OpenAPI component schemas our routes answer with into tests/data.

    python scripts/extract_openai_schemas.py OPENAPI_JSON COMMIT

OPENAPI_JSON is openapi.json of github.com/openai/openai-openapi at COMMIT. Only the
response schemas of the routes we offer and the schemas they reference are kept, with
"#/components/schemas/X" rewritten to "#/$defs/X" so jsonschema resolves them in one file,
and OpenAPI 3.0's `nullable: true` (the spec still uses it) written as JSON Schema's null type.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOTS = ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse",
         "ErrorResponse", "ListModelsResponse"]
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "openai-chat-schemas.json"


def _nullable(node: dict) -> dict:
    node = {k: v for k, v in node.items() if k != "nullable"}
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    if isinstance(node.get("type"), str):
        return {**node, "type": [node["type"], "null"]}
    if "type" not in node:
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _rewrite(node, schemas: dict, keep: set):
    if isinstance(node, dict) and node.get("nullable") is True:
        return _rewrite(_nullable(node), schemas, keep)
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref":
                name = value.rsplit("/", 1)[-1]
                if name not in keep:
                    keep.add(name)
                    schemas[name] = _rewrite(SPEC[name], schemas, keep)
                out[key] = f"#/$defs/{name}"
            else:
                out[key] = _rewrite(value, schemas, keep)
        return out
    if isinstance(node, list):
        return [_rewrite(v, schemas, keep) for v in node]
    return node


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    SPEC = spec["components"]["schemas"]
    schemas: dict = {}
    keep = set(ROOTS)
    for root in ROOTS:
        schemas[root] = _rewrite(SPEC[root], schemas, keep)
    doc = {"$comment": f"component schemas from github.com/openai/openai-openapi openapi.json "
                       f"(version {spec['info']['version']}, commit {sys.argv[2]}); regenerate "
                       "with scripts/extract_openai_schemas.py",
           "$defs": dict(sorted(schemas.items()))}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(schemas)} schemas")
