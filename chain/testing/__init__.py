"""Test and bench machinery for the chain: imported by tests and benches, never by production code.

- ``devnode``: a real anvil node on a free port with its own random chain id (``AnvilNode``);
- ``rpcproxy``: a JSON-RPC proxy that refuses ``eth_getLogs`` the way hosted providers do;
- ``contracts``: node-signed deploys and calls (anvil's dev accounts), the suite deployed by
  the deployment plan of ``chain.plan``, offer configurations, the test-only contracts;
- ``market``: the standard test market (accounts by role, the deployed suite, its offers);
- ``faults``: failures injected into the sync (a projection that crashes mid-batch);
- ``required``: skip a test whose service is missing, fail it in CI;
- ``fixtures``: the pytest fixtures built on these (a plugin the root ``conftest.py`` loads).

The modules import nothing of them at package import, so ``chain.testing.rpcproxy`` stays free
of Django and web3.
"""
