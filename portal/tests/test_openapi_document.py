"""The OpenAPI document is one a strict parser reads: no key twice in any object (Python's
``json`` keeps the last silently; Swagger UI's YAML reader refuses the whole document)."""

from __future__ import annotations

import json


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    duplicated = {key for key in keys if keys.count(key) > 1}
    assert not duplicated, f"keys given twice: {sorted(duplicated)}"
    return dict(pairs)


def test_no_object_of_the_document_repeats_a_key(client):
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=_no_duplicates)
    assert document["paths"]
