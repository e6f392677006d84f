"""jobQueueEntries' bound action `Microsoft.NAV.restart`.

P/APIV2JobQueueEntries.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803 (P/ is
StefanMaron/MSDyn365BC.Code.History `APIV2/Source/_Exclude_APIV2_/src/pages/`): `Rec.Restart()`,
then result code Updated when the entry ends Ready, else None. Microsoft Learn
(api-reference/v2.0/resources/dynamics_jobqueueentry): "The response has no content; the response
code is 204."
"""

from __future__ import annotations

from typing import Any

from businesscentral_emulator.odata.values import EMPTY_DATETIME


def restarted() -> dict[str, Any]:
    """The fields Job Queue Entry.Restart() sets.

    BaseApp table Job Queue Entry (find_string id 29963032): `ClearServiceValues()` ("User Session
    Started" := 0DT, "User Service Instance ID" := 0, "User Session ID" := 0), then `Status := On
    Hold; SetStatusValue(Status::Ready)`. Simplified: what SetStatusValue does besides the status
    (scheduling the task) is not modelled.
    """
    return {
        "status": "Ready",
        "userSessionStarted": EMPTY_DATETIME,
        "userServiceInstanceId": 0,
        "userSessionId": 0,
    }
