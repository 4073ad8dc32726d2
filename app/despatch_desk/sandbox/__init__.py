"""Built-in SortedPRO sandbox: the Consignments API emulated on loopback.

Used by the test suite (over real HTTP) and by the GUI's demo mode.  Standard library only,
no Qt.  Faithful to ``shared/sortedpro-api.md``; where the public material is silent the
sandbox picks one behaviour and (where useful) makes it switchable.

Quick use::

    from despatch_desk.sandbox import SandboxServer, DEMO_API_KEY, Fault

    with SandboxServer() as sandbox:            # 127.0.0.1, free port, demo data
        sandbox.url                             # "http://127.0.0.1:PORT"
        sandbox.add_fault(Fault("drop-after-commit", times=1))
        ...                                     # PUT {url}/allocation/EC-000-DSK-001/allocatewithservicegroup/nextDay

Endpoints (path segments case-insensitive, header ``ocp-apim-subscription-key`` required):

* ``PUT  /allocation/{ref}/allocatewithservicegroup/{group}`` → 200 ``[summary]``; no eligible
  service → 200 ``[summary with StatusCode 400]`` (default) or 400 ``AllocationFailed`` error
  (``failed_allocation_style="error"``); wrong state → 400 ``OperationFailed``; unknown group →
  400 ``CarrierServiceGroupNotFoundForCustomer``; unknown ref → 404 ``ObjectNotFound``.
* ``GET  /consignments/{ref}``, ``GET /consignments/{ref}/status``, ``PUT /consignments/{ref}/deallocate``
* ``GET  /labels/{ref}[/{PDF|ZPL|ZPLII}[/{dpi}]]`` → ``{"File": base64, "ContentType": ...}``;
  PDF is ``application/pdf``, ZPL/ZPLII is ``text/plain``.
* ``GET  /servicegroups``, ``GET /carrierservices``
* anything else → 404 JSON error; a known path with the wrong method → 405.

Demo data: see :mod:`despatch_desk.sandbox.demo` (consignments) and
:mod:`despatch_desk.sandbox.catalogue` (carriers, services, groups).
Command line: ``python -m despatch_desk.sandbox --help``.
"""

from .catalogue import Quote
from .cli import main
from .demo import DEMO_CONSIGNMENTS, DemoConsignment
from .faults import FAULT_DESCRIPTIONS, FAULT_NAMES, Fault
from .server import DEMO_API_KEY, RecordedRequest, SandboxServer, is_loopback_host
from .store import ALLOCATABLE_STATES, STATES

__all__ = [
    "SandboxServer",
    "DEMO_API_KEY",
    "FAULT_NAMES",
    "FAULT_DESCRIPTIONS",
    "Fault",
    "RecordedRequest",
    "DEMO_CONSIGNMENTS",
    "DemoConsignment",
    "Quote",
    "STATES",
    "ALLOCATABLE_STATES",
    "is_loopback_host",
    "main",
]
