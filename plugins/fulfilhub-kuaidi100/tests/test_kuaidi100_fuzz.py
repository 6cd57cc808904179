"""Every Kuaidi100 mapping turns any input into a model or a PayloadError, never another exception.

Mutated copies of the golden payloads (``fulfilhub.testing.fuzz``) go through each
function that reads Kuaidi100's JSON; a model that comes out is checked for values the
store could not keep.
"""

from __future__ import annotations

import json

import pytest
from fulfilhub.testing.fuzz import assert_maps_or_refuses, check_model, mutations

from fulfilhub_kuaidi100 import mapping


@pytest.mark.parametrize("golden", ["query_delivered", "query_refused", "query_exceptions", "query_customs",
                                    "query_words_only"])
def test_parse_result_maps_or_refuses_every_mutation(payload, golden):
    result = assert_maps_or_refuses(mapping.parse_result, mutations(payload(golden), seed=3, count=600),
                                    check=check_model)
    assert result.mapped > 100
    assert result.refused > 20  # the mutations reach both outcomes


@pytest.mark.parametrize("golden", ["push_polling", "push_abort"])
def test_pushes_map_or_refuse_every_mutation(payload, golden):
    def parse(value):
        return mapping.parse_push(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))

    result = assert_maps_or_refuses(parse, mutations(payload(golden), seed=4, count=600), check=check_model)
    assert result.mapped > 50
    assert result.refused > 10


def test_autonumber_answers_map_or_refuse_every_mutation(payload):
    assert_maps_or_refuses(mapping.parse_autonumber, mutations(payload("autonumber"), seed=5, count=400))
