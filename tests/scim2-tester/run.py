"""Runs scim2-tester (a third-party SCIM compliance checker, github.com/python-scim)
against a live idbridge SCIM endpoint and fails on anything that is not a pass.

    python run.py <scim base url> <bearer token>

The integration test `scim2_tester_passes_clean` starts idbridge and runs this. Any
check that is skipped is listed, with the reason scim2-tester gave; README.md explains
the skips idbridge expects.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    failures = 0
    for result in results:
        status = result.status
        line = f"{status.name:<10} {result.title}"
        if result.reason:
            line += f": {result.reason}"
        print(line)
        if status not in PASSING and status != Status.SKIPPED:
            failures += 1
            if result.data is not None:
                print(f"           data: {result.data!r}"[:2000])
    passed = sum(r.status in PASSING for r in results)
    skipped = sum(r.status == Status.SKIPPED for r in results)
    print(f"scim2-tester: {passed} passed, {skipped} skipped, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
