"""ModelRegistry: models, publishers and write-once version artifact hashes."""

from __future__ import annotations

import hashlib

from chain.testing.market import MODEL, OTHER_MODEL, ZERO, expect_revert

ARTIFACT = hashlib.sha256(b"joblib bytes of version 1").digest()


def test_register_update_and_read_a_model(chain):
    env, a = chain, chain.acct
    registry = env.registry
    receipt = env.send(registry.functions.registerModel(MODEL, a.alice, "ipfs://v1"), a.publisher)
    assert env.events(registry, receipt, "ModelRegistered")[0] == {
        "modelId": MODEL,
        "publisher": a.alice,
        "metadataURI": "ipfs://v1",
    }
    registered_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert registry.functions.modelOf(MODEL).call() == [a.alice, "ipfs://v1", registered_at, 0]
    assert registry.functions.publisherOf(MODEL).call() == a.alice
    assert registry.functions.isRegistered(MODEL).call()
    assert registry.functions.publisherOf(OTHER_MODEL).call() == ZERO

    receipt = env.send(registry.functions.updateModel(MODEL, a.bob, "ipfs://v2"), a.publisher)
    assert env.events(registry, receipt, "ModelUpdated")[0]["publisher"] == a.bob
    assert registry.functions.modelOf(MODEL).call()[:2] == [a.bob, "ipfs://v2"]


def test_register_rejects_bad_input_and_duplicates(chain):
    env, a = chain, chain.acct
    register = env.registry.functions.registerModel
    env.send(register(MODEL, a.alice, ""), a.publisher)
    cases = [
        (register(MODEL, a.bob, ""), "ModelAlreadyRegistered"),
        (register(b"\x00" * 32, a.bob, ""), "ZeroModelId"),
        (register(OTHER_MODEL, ZERO, ""), "ZeroAddress"),
        (env.registry.functions.updateModel(OTHER_MODEL, a.bob, ""), "ModelNotRegistered"),
        (env.registry.functions.updateModel(MODEL, ZERO, ""), "ZeroAddress"),
    ]
    for call, error in cases:
        expect_revert(lambda call=call: env.send(call, a.publisher), error)


def test_version_hashes_are_write_once(chain):
    env, a = chain, chain.acct
    registry = env.registry
    env.send(registry.functions.registerModel(MODEL, a.alice, ""), a.publisher)
    publish = registry.functions.publishVersion
    receipt = env.send(publish(MODEL, 1, ARTIFACT, "1.0.0"), a.publisher)
    assert env.events(registry, receipt, "VersionPublished")[0] == {
        "modelId": MODEL,
        "version": 1,
        "artifactSha256": ARTIFACT,
        "label": "1.0.0",
    }
    assert registry.functions.artifactHashOf(MODEL, 1).call() == ARTIFACT
    assert registry.functions.artifactHashOf(MODEL, 2).call() == b"\x00" * 32
    other = hashlib.sha256(b"other bytes").digest()
    expect_revert(
        lambda: env.send(publish(MODEL, 1, other, "1.0.1"), a.publisher),
        "VersionAlreadyPublished",
        modelId=MODEL,
        version=1,
        artifactSha256=ARTIFACT,
    )
    expect_revert(
        lambda: env.send(publish(MODEL, 2, b"\x00" * 32, ""), a.publisher), "ZeroArtifactHash"
    )
    expect_revert(
        lambda: env.send(publish(OTHER_MODEL, 1, other, ""), a.publisher), "ModelNotRegistered"
    )
    env.send(publish(MODEL, 2, other, "1.1.0"), a.publisher)
    assert registry.functions.modelOf(MODEL).call()[3] == 2
