"""The OpenAPI document describes every endpoint the core service routes."""

import re

from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_names_every_route(app, anonymous):
    document = anonymous.ok("GET", "openapi.json")
    validate(document)
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "openapi" or not rule.rule.startswith(("/api/", "/healthz")):
            continue  # the web UI's pages are HTML, not API
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routed |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed - documented == set()


def test_card_schema_matches_the_contract(anonymous):
    document = anonymous.ok("GET", "openapi.json")
    card = document["components"]["schemas"]["Card"]["properties"]
    contract = {
        "id",
        "product_id",
        "status_id",
        "status_group",
        "title",
        "owner_id",
        "fields",
        "next_task_due",
        "closed",
        "trashed",
        "created_at",
        "updated_at",
        "version",
    }
    assert contract <= set(card)
    assert card["next_task_due"]["format"] == "date-time"
