#!/usr/bin/env python3
"""Record the exact HTTP requests Meta's official Python SDK sends, for the sandbox's fidelity test.

How to run (from the repository root; the virtual environment stays outside the repository):

    python3 -m venv /tmp/fbsdk-venv
    /tmp/fbsdk-venv/bin/pip install facebook-business==26.0.3
    cargo build -p meta-sandbox
    /tmp/fbsdk-venv/bin/python scripts/capture-sdk-requests.py

It starts `target/debug/meta-sandbox` (override with --sandbox-bin) on a free local port with a
fixed world (seed 42, size small, today 2026-03-18, the same world as
`crates/meta-sandbox/tests/sdk_fidelity.rs`), asks its control API for a user token, points the
SDK at it and runs these scenarios through the SDK's own objects:

  accounts        User('me').get_ad_accounts()
  campaigns       AdAccount.get_campaigns(limit=2), every page
  async_insights  AdAccount.get_insights(is_async=True), polling AdReportRun.api_get() until
                  "Job Completed", then AdReportRun.get_result(), every page
  batch           a batch of three: an ad account read, campaign insights, an async report
                  run; then that run is polled and its result read
  leads           me/accounts -> Page.get_lead_gen_forms() -> LeadgenForm.get_leads(), every page
  templates       me/businesses -> Business.get_owned_whats_app_business_accounts() ->
                  WhatsAppBusinessAccount.get_message_templates(), every page

Every request goes through the SDK's `requests` session; a wrapper around that session records
the prepared request (method, path, query, content type, body) and its answer. The result is
written to crates/meta-sandbox/tests/fixtures/sdk/requests.json with:

  * the access token replaced by {{ACCESS_TOKEN}} and the appsecret_proof by {{APPSECRET_PROOF}};
  * every value that the SDK took from an earlier answer (ids, report_run_id, paging cursors)
    replaced by {{answer:N:PATH}}: the value at PATH (dot-separated keys and array indexes; a
    string that holds JSON, such as a batch item's body, is parsed when the path goes on) in the
    answer to request N (0-based). The most recent answer holding the value wins.

The capture needs the sandbox to accept what the SDK sends; the script stops with the SDK's
error when a scenario fails.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import warnings

SDK_PIN = "26.0.3"
SEED = "42"
SIZE = "small"
TODAY = "2026-03-18"
APP_ID = "1234567890"
APP_SECRET = "sandbox-app-secret"
# Keys whose values a client takes from an answer and sends back later.
REFERENCE_KEYS = {"id", "report_run_id", "after", "before"}
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_-]{6,}$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(binary):
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--seed", SEED, "--size", SIZE, "--today", TODAY,
         "--enable-control", "--app-id", APP_ID, "--app-secret", APP_SECRET],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/_sandbox/config", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"the sandbox exited: {proc.stdout.read()}")
            time.sleep(0.05)
    proc.kill()
    sys.exit("the sandbox did not start")


def issue_token(base):
    req = urllib.request.Request(
        base + "/_sandbox/tokens", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )
    return json.loads(urllib.request.urlopen(req, timeout=5).read())["access_token"]


class Recorder:
    """Wraps a requests.Session so every request the SDK makes is written down with its answer."""

    def __init__(self, session, base):
        self.base = base
        self.scenario = None
        self.step = None
        self.entries = []
        self._request = session.request

        def request(method, url, **kwargs):
            resp = self._request(method, url, **kwargs)
            self.record(resp)
            return resp

        session.request = request

    def record(self, resp):
        prepared = resp.request
        parts = urllib.parse.urlsplit(prepared.url)
        body = prepared.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        self.entries.append({
            "scenario": self.scenario,
            "step": self.step,
            "method": prepared.method,
            "path": parts.path,
            "query": parts.query,
            "content_type": prepared.headers.get("Content-Type"),
            "body": body,
            "user_agent": prepared.headers.get("User-Agent"),
            "recorded_status": resp.status_code,
            "_answer": answer,
        })

    def at(self, scenario, step):
        self.scenario, self.step = scenario, step
        return self


def leaves(value, path=""):
    """(path, string) for reference-like leaves; JSON held in strings is walked too."""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}.{k}" if path else k
            if isinstance(v, str) and k in REFERENCE_KEYS and SAFE_VALUE.match(v):
                yield p, v
            else:
                yield from leaves(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}.{i}" if path else str(i))
    elif isinstance(value, str) and value[:1] in "[{":
        try:
            yield from leaves(json.loads(value), path)
        except ValueError:
            pass


def replace_token(text, value, placeholder):
    """Replaces whole occurrences of value; a percent-escape (%2F, %22, ...) counts as a boundary."""
    if not text:
        return text
    pattern = (r"(?:(?<![A-Za-z0-9_-])|(?<=%[0-9A-Fa-f]{2}))" + re.escape(value)
               + r"(?![A-Za-z0-9_-])")
    return re.sub(pattern, lambda _m: placeholder, text)


def redact(entries, token, proof):
    known = {}  # value -> placeholder, later answers overwrite earlier ones
    out = []
    for n, e in enumerate(entries):
        e = dict(e)
        answer = e.pop("_answer")
        for key in ("path", "query", "body"):
            text = e[key]
            if not text:
                continue
            text = text.replace(token, "{{ACCESS_TOKEN}}").replace(proof, "{{APPSECRET_PROOF}}")
            for value in sorted(known, key=len, reverse=True):
                text = replace_token(text, value, known[value])
            e[key] = text
        out.append(e)
        for path, value in leaves(answer):
            known[value] = f"{{{{answer:{n}:{path}}}}}"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sandbox-bin", default="target/debug/meta-sandbox")
    ap.add_argument("--out", default="crates/meta-sandbox/tests/fixtures/sdk/requests.json")
    ap.add_argument("--answers", help="also write the raw answers here (for reading, not committed)")
    args = ap.parse_args()
    # The SDK warns about fields its generated classes do not list (message_templates); noise here.
    warnings.filterwarnings("ignore", category=UserWarning, module="facebook_business")

    from facebook_business.api import FacebookAdsApi
    from facebook_business.adobjects.adaccount import AdAccount
    from facebook_business.adobjects.adreportrun import AdReportRun
    from facebook_business.adobjects.adsinsights import AdsInsights
    from facebook_business.adobjects.business import Business
    from facebook_business.adobjects.campaign import Campaign
    from facebook_business.adobjects.leadgenform import LeadgenForm
    from facebook_business.adobjects.page import Page
    from facebook_business.adobjects.user import User
    from facebook_business.adobjects.whatsappbusinessaccount import WhatsAppBusinessAccount
    from facebook_business.apiconfig import ads_api_config

    sdk_version = ads_api_config["SDK_VERSION"].lstrip("v")
    if sdk_version != SDK_PIN:
        sys.exit(f"expected facebook-business {SDK_PIN}, found {sdk_version}")

    proc, base = start_sandbox(args.sandbox_bin)
    try:
        token = issue_token(base)
        proof = hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
        # crash_log=False: the SDK's crash reporter would otherwise post to Meta.
        api = FacebookAdsApi.init(APP_ID, APP_SECRET, token, crash_log=False)
        api._session.GRAPH = base  # the SDK builds URLs as GRAPH/vNN.0/path
        rec = Recorder(api._session.requests, base)

        # Account list.
        rec.at("accounts", "me_adaccounts")
        accounts = list(User(fbid="me").get_ad_accounts(
            fields=[AdAccount.Field.id, AdAccount.Field.account_id, AdAccount.Field.name,
                    AdAccount.Field.currency, AdAccount.Field.timezone_name,
                    AdAccount.Field.account_status],
            params={"limit": 25},
        ))
        account = AdAccount(accounts[0]["id"])

        # Campaigns with paging: the SDK's Cursor follows paging.cursors.after while paging.next exists.
        rec.at("campaigns", "campaigns_page")
        campaigns = list(account.get_campaigns(
            fields=[Campaign.Field.id, Campaign.Field.name, Campaign.Field.status,
                    Campaign.Field.effective_status, Campaign.Field.objective,
                    Campaign.Field.daily_budget],
            params={"limit": 2, "effective_status": ["ACTIVE", "PAUSED"]},
        ))

        insights_fields = [AdsInsights.Field.campaign_id, AdsInsights.Field.campaign_name,
                           AdsInsights.Field.spend, AdsInsights.Field.impressions,
                           AdsInsights.Field.clicks, AdsInsights.Field.actions,
                           AdsInsights.Field.cost_per_action_type]
        insights_params = {
            "level": "campaign",
            "time_range": {"since": "2026-03-04", "until": "2026-03-17"},
            "time_increment": 1,
            "action_attribution_windows": ["1d_view", "7d_click", "28d_click"],
            "action_breakdowns": ["action_type"],
            "use_unified_attribution_setting": True,
            "filtering": [{"field": "campaign.effective_status", "operator": "IN",
                           "value": ["ACTIVE", "PAUSED"]}],
        }

        def poll(run, scenario):
            for _ in range(50):
                rec.at(scenario, "report_run_poll")
                run.api_get()
                if run[AdReportRun.Field.async_status] == "Job Completed":
                    return
                time.sleep(0.05)
            sys.exit("the report run never completed")

        # Async insights report run.
        rec.at("async_insights", "report_run_start")
        run = account.get_insights(fields=insights_fields, params=dict(insights_params),
                                   is_async=True)
        poll(run, "async_insights")
        rec.at("async_insights", "report_run_result_page")
        rows = list(run.get_result(params={"limit": 10}))

        # A batch of three, the third an async report run.
        batch = api.new_batch()
        answers = {}

        def keep(name):
            def ok(resp):
                answers[name] = resp.json()
            return ok

        def failed(resp):
            sys.exit(f"batch item failed: {resp.body()}")

        account.api_get(fields=[AdAccount.Field.name, AdAccount.Field.currency,
                                AdAccount.Field.amount_spent],
                        batch=batch, success=keep("account"), failure=failed)
        Campaign(campaigns[0]["id"]).get_insights(
            fields=[AdsInsights.Field.spend, AdsInsights.Field.actions],
            params={"date_preset": "last_7d", "action_attribution_windows": ["7d_click", "1d_view"]},
            batch=batch, success=keep("campaign_insights"), failure=failed)
        account.get_insights(
            fields=[AdsInsights.Field.campaign_id, AdsInsights.Field.spend],
            params={"level": "campaign", "date_preset": "last_7d",
                    "breakdowns": [], "action_breakdowns": ["action_type"]},
            is_async=True, batch=batch, success=keep("report_run"), failure=failed)
        rec.at("batch", "batch")
        if batch.execute() is not None:
            sys.exit("the batch had unprocessed items")
        batch_run = AdReportRun(answers["report_run"]["report_run_id"])
        poll(batch_run, "batch")
        rec.at("batch", "report_run_result_page")
        list(batch_run.get_result())

        # Lead retrieval.
        rec.at("leads", "me_accounts")
        pages = list(User(fbid="me").get_accounts(fields=["id", "name"]))
        rec.at("leads", "leadgen_forms")
        forms = list(Page(pages[0]["id"]).get_lead_gen_forms(fields=["id", "name", "status"]))
        rec.at("leads", "leads_page")
        since = 1773187200  # 2026-03-11T00:00:00Z
        leads = list(LeadgenForm(forms[0]["id"]).get_leads(
            fields=["id", "created_time", "field_data", "ad_id", "form_id"],
            params={"limit": 5, "filtering": [{"field": "time_created",
                                               "operator": "GREATER_THAN", "value": since}]},
        ))

        # WhatsApp message templates.
        rec.at("templates", "me_businesses")
        businesses = list(User(fbid="me").get_businesses(fields=["id", "name"]))
        rec.at("templates", "owned_wabas")
        wabas = list(Business(businesses[0]["id"]).get_owned_whats_app_business_accounts(
            fields=["id", "name"]))
        rec.at("templates", "templates_page")
        templates = list(WhatsAppBusinessAccount(wabas[0]["id"]).get_message_templates(
            fields=["id", "name", "language", "status", "category", "components"],
            params={"limit": 2, "status": ["APPROVED"], "category": ["UTILITY", "MARKETING"]},
        ))

        print(f"accounts={len(accounts)} campaigns={len(campaigns)} async_rows={len(rows)} "
              f"leads={len(leads)} templates={len(templates)} requests={len(rec.entries)}")
        fixture = {
            "about": "HTTP requests made by Meta's Python SDK, captured by "
                     "scripts/capture-sdk-requests.py; replayed by tests/sdk_fidelity.rs.",
            "sdk": f"facebook-business {sdk_version} (Graph {ads_api_config['API_VERSION']})",
            "world": {"seed": int(SEED), "size": SIZE, "today": TODAY},
            "requests": redact(rec.entries, token, proof),
        }
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(fixture, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"wrote {args.out}")
        if args.answers:
            with open(args.answers, "w", encoding="utf-8") as f:
                json.dump([e["_answer"] for e in rec.entries], f, indent=1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
