"""``raybot slack``: run the Slack bot (Socket Mode)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from raybot.commands import handles_errors
from raybot.errors import UsageError


@handles_errors
def slack(
    slack_api_url: Annotated[
        str | None,
        typer.Option(
            "--slack-api-url",
            envvar="SLACK_API_URL",
            help="Slack Web API base URL (default https://slack.com/api/; e.g. a GovSlack or test endpoint).",
        ),
    ] = None,
    allow_diagnose: Annotated[
        bool,
        typer.Option(
            "--allow-diagnose",
            envvar="RAYBOT_ALLOW_DIAGNOSE",
            help="Let '@raybot diagnose' inspect the Ray cluster the bot runs on.",
        ),
    ] = False,
) -> None:
    """Answer in Slack: mention the bot in a channel, reply in the thread to follow up, or DM it.

    Needs a Slack app installed from slack/manifest.yaml (Socket Mode: no public URL). Tokens come
    from the environment only: SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-..., with
    connections:write). Threads, feedback and gaps go to the same store as the CLI (RAYBOT_HOME).

    Examples:

      SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... raybot slack

      raybot slack --allow-diagnose          # on a node of the cluster: '@raybot diagnose'

      raybot slack --slack-api-url https://slack-gov.com/api/
    """
    bot_token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    app_token = os.environ.get("SLACK_APP_TOKEN", "").strip()
    missing = [name for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token)) if not value]
    if missing:
        raise UsageError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint="install the app from slack/manifest.yaml, then export SLACK_BOT_TOKEN=xoxb-... and "
            "SLACK_APP_TOKEN=xapp-... (README: 'Use it in Slack')",
            reference="slack-token-missing",
        )
    if not bot_token.startswith("xoxb-") or not app_token.startswith("xapp-"):
        raise UsageError(
            "SLACK_BOT_TOKEN must start with xoxb- and SLACK_APP_TOKEN with xapp-",
            hint="the bot token is under OAuth & Permissions, the app-level token under Basic Information",
            reference="slack-token-invalid",
        )
    from raybot.render import err_console
    from raybot.slack_bot import run

    err_console().print("raybot is connecting to Slack (Socket Mode); Ctrl-C stops it", highlight=False)
    run(bot_token=bot_token, app_token=app_token, api_url=slack_api_url, allow_diagnose=allow_diagnose)
