"""Pure renderers: a Message as plain text, Slack Block Kit, a Discord embed, e-mail, JSON."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from build_monitor.notifications.compose import Message

_DISCORD_COLOURS = {"failure": 0xD73A49, "warning": 0xDBAB09, "success": 0x28A745, "info": 0x0366D6}
_SLACK_TEXT_LIMIT = 2900
_DISCORD_CONTENT_LIMIT = 2000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_text(message: Message) -> str:
    lines = [message.title, "", message.headline, ""]
    lines += [f"{name}: {value}" for name, value in message.fields]
    lines += list(message.extra_lines)
    if message.log_excerpt:
        lines += ["", "Log:", *("  " + line for line in message.log_excerpt.splitlines())]
    if message.link:
        lines += ["", f"Flow run: {message.link}"]
    if message.next_action:
        lines += ["", f"Next: {message.next_action}"]
    return "\n".join(lines).strip() + "\n"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code_block(text: str) -> str:
    return "```" + text.replace("```", "`\u200b``") + "```"


def render_slack(message: Message) -> dict[str, Any]:
    fallback = f"{message.title}: {message.headline}"
    if message.next_action:
        fallback += f" Next: {message.next_action}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, 150)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(_slack_escape(message.headline), 3000)},
        },
    ]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{name}*\n{_slack_escape(value)}", 2000)}
                    for name, value in message.fields[:10]
                ],
            }
        )
    if message.extra_lines:
        text = "\n".join(_slack_escape(line) for line in message.extra_lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}})
    if message.log_excerpt:
        log = _code_block(_clip(_slack_escape(message.log_excerpt), 2900))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": log}})
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open flow run"},
                        "url": message.link,
                    }
                ],
            }
        )
    if message.next_action:
        next_text = f"*Next:* {_slack_escape(message.next_action)}"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(next_text, 3000)}}
        )
    return {"text": _clip(_slack_escape(fallback), _SLACK_TEXT_LIMIT), "blocks": blocks}


def render_discord(message: Message) -> dict[str, Any]:
    content = f"**{message.title}**: {message.headline}"
    description_parts = [message.headline, *message.extra_lines]
    if message.log_excerpt:
        description_parts.append(_code_block(message.log_excerpt))
    if message.next_action:
        description_parts.append(f"**Next:** {message.next_action}")
    embed: dict[str, Any] = {
        "title": _clip(message.title, 256),
        "description": _clip("\n\n".join(description_parts), 4096),
        "color": _DISCORD_COLOURS[message.severity],
        "fields": [
            {"name": _clip(name, 256), "value": _clip(value, 1024), "inline": len(value) <= 40}
            for name, value in message.fields[:25]
        ],
    }
    if message.link:
        embed["url"] = message.link
    if message.occurred_at is not None:
        embed["timestamp"] = message.occurred_at.isoformat()
    return {
        "content": _clip(content, _DISCORD_CONTENT_LIMIT),
        "embeds": [embed],
        # Commit subjects are written by anyone: never let them ping @everyone.
        "allowed_mentions": {"parse": []},
    }


def render_html(message: Message) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><th align='left'>{esc(name)}</th><td>{esc(value)}</td></tr>"
        for name, value in message.fields
    )
    parts = [f"<h2>{esc(message.title)}</h2>", f"<p>{esc(message.headline)}</p>"]
    if rows:
        parts.append(f"<table>{rows}</table>")
    if message.extra_lines:
        parts.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in message.extra_lines) + "</ul>")
    if message.log_excerpt:
        parts.append(f"<pre>{esc(message.log_excerpt)}</pre>")
    if message.link:
        parts.append(f'<p><a href="{esc(message.link)}">Open the flow run</a></p>')
    if message.next_action:
        parts.append(f"<p><b>Next:</b> <code>{esc(message.next_action)}</code></p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def render_email(
    message: Message,
    *,
    from_address: str,
    to: list[str],
    cc: list[str] | None = None,
    subject_prefix: str = "[build-monitor]",
) -> EmailMessage:
    email = EmailMessage()
    subject = f"{subject_prefix} {message.title}".strip()
    email["Subject"] = _clip(subject.replace("\n", " "), 200)
    email["From"] = from_address
    email["To"] = ", ".join(to)
    if cc:
        email["Cc"] = ", ".join(cc)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="build-monitor")
    email["X-Build-Monitor-Service"] = message.service
    email.set_content(render_text(message))
    email.add_alternative(render_html(message), subtype="html")
    return email


def render_webhook(message: Message, event: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "version": 1,
        "kind": event["event"] if event else "message",
        "title": message.title,
        "text": render_text(message),
        "severity": message.severity,
        "service": message.service,
        "flow_run_url": message.link,
        "next_action": message.next_action,
        "event": event,
    }
