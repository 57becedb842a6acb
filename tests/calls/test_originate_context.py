"""A context's document with the request's vars: {{NAME}} filled in XML-escaped (a var
cannot add verbs), vars added to voice_url's query."""

from __future__ import annotations

from callbridge.calls.originate.context import filled_xml, url_with_vars


def test_vars_fill_the_placeholders_escaped() -> None:
    document = "<Response><Say>Hello {{NAME}}, {{ MISSING }}</Say></Response>"
    filled = filled_xml(document, {"NAME": "</Say><Dial>+1900</Dial><Say>&"})
    assert filled == (
        "<Response><Say>Hello &lt;/Say&gt;&lt;Dial&gt;+1900&lt;/Dial&gt;&lt;Say&gt;&amp;, "
        "</Say></Response>"
    )


def test_vars_join_the_url_query() -> None:
    assert url_with_vars("https://crm/ctx?a=1", {"B": "x y", "A": "&"}) == (
        "https://crm/ctx?a=1&A=%26&B=x+y"
    )
    assert url_with_vars("https://crm/ctx", {}) == "https://crm/ctx"
