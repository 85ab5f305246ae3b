"""§5 X-Ray in triage: GetTraceSummaries read page by page (NextToken), faults and errors
grouped by URL path, /admin/* and /audit/* first. Shapes as the AWS X-Ray API reference
gives them: https://docs.aws.amazon.com/xray/latest/api/API_GetTraceSummaries.html
(TraceSummary.Http.HttpURL, HasFault, HasError, HasThrottle; NextToken paging)."""
from datetime import datetime, timedelta, timezone

from rovn_ops.triage import traces
from rovn_ops.triage.window import Window


def s(url, fault=False, error=False, took=0.2):
    return {"Id": "1-x", "Http": {"HttpURL": url, "HttpStatus": 500 if fault else 200},
            "HasFault": fault, "HasError": error, "HasThrottle": False, "ResponseTime": took}


class Pages:
    """Two pages, as X-Ray answers a busy window."""
    def __init__(self):
        self.calls = []

    def get_trace_summaries(self, **kw):
        self.calls.append(kw)
        if "NextToken" not in kw:
            return {"TraceSummaries": [s("https://a/api/notes", fault=True)], "NextToken": "t1"}
        return {"TraceSummaries": [s("https://a/admin/users?id=1", fault=True)]}


def test_fetch_follows_next_token():
    now = datetime.now(timezone.utc)
    pages = Pages()
    got = traces.fetch(pages, Window(now - timedelta(minutes=30), now))
    assert len(got) == 2 and pages.calls[1]["NextToken"] == "t1"


def test_admin_and_audit_first_then_by_faults():
    rows = [s("https://a/api/notes", fault=True)] * 5 + [s("https://a/audit/export", error=True),
            s("https://a/admin/users", fault=True), s("https://a/ok")]
    t = traces.by_path(rows)
    assert list(t["path"]) == ["/admin/users", "/audit/export", "/api/notes"]  # /ok had nothing wrong
    assert traces.facts(t)[2] == {"path": "/api/notes", "faults": 5, "errors": 0, "throttles": 0, "slow": 0,
                                     "slowest_s": 0.2, "traces": 5}


def test_a_summary_without_http_is_counted_not_dropped():
    t = traces.by_path([{"HasFault": True}])
    assert list(t["path"]) == ["(no URL)"]


def test_a_slow_path_is_listed_even_without_faults():
    t = traces.by_path([s("https://a/api/search", took=4.5), s("https://a/api/search"), s("https://a/ok")])
    assert traces.facts(t) == [{"path": "/api/search", "faults": 0, "errors": 0, "throttles": 0, "slow": 1,
                                "slowest_s": 4.5, "traces": 2}]


def test_a_path_carrying_personal_data_is_redacted_and_the_query_dropped():
    t = traces.by_path([s("https://a/api/patients/123-45-6789/notes?email=jo@example.com", fault=True)])
    [p] = list(t["path"])
    assert "123-45-6789" not in p and "jo@example.com" not in p and p.startswith("/api/patients/")
