"""The weekly digest as HTML with small server-side charts, and as plain text.

Charts are inline SVG: nothing is fetched, no script, no CDN. They show activity and its trend
with context, not a red/green verdict: the week's count as a bar, last week's as a thin grey
bar under it, the week's target as a tick.
"""

from __future__ import annotations

import html

from touchline.coaching.digest import ACTIVITY_WORDS, ActivityLine, Digest

BAR = "#3b6ea5"
LAST = "#b8c2cc"
INK = "#1f2937"
MUTED = "#6b7280"


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def trend_words(line: ActivityLine) -> str:
    """`up 25% on last week`, `about the same as last week`, `none last week`, ..."""
    if line.last_done is None:
        return "no record last week"
    if line.last_done == 0:
        return "none either week" if line.done == 0 else "none last week"
    change = (line.done - line.last_done) / line.last_done
    if abs(change) < 0.05:
        return "about the same as last week"
    return f"{'up' if change > 0 else 'down'} {abs(change):.0%} on last week"


def activity_svg(line: ActivityLine, width: int = 240, height: int = 26) -> str:
    """One activity: the week's bar, last week's thin bar and the target tick, one scale."""
    top = max(line.done, line.target, line.last_done or 0, 1) * 1.1

    def x(v: float) -> float:
        return round(v / top * (width - 2), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(ACTIVITY_WORDS[line.activity])}: '
             f'{_num(line.done)} of {_num(line.target)}">',
             f'<rect x="0" y="3" width="{x(line.done)}" height="12" fill="{BAR}"/>']
    if line.last_done is not None:
        parts.append(f'<rect x="0" y="18" width="{x(line.last_done)}" height="5" '
                     f'fill="{LAST}"/>')
    parts.append(f'<rect x="{x(line.target)}" y="0" width="2" height="{height}" '
                 f'fill="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


def touches_svg(touches: dict[str, int], width: int = 360, height: int = 140) -> str:
    """Prospects by touches received in the week, one bar per bucket (0 .. 8+)."""
    top = max([*touches.values(), 1])
    n = len(touches)
    slot = width / n
    bar = slot * 0.7
    plot = height - 34
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="prospects by touches received">']
    for i, (bucket, count) in enumerate(touches.items()):
        h = round(count / top * plot, 1)
        x = round(i * slot + (slot - bar) / 2, 1)
        parts.append(f'<rect x="{x}" y="{round(16 + plot - h, 1)}" width="{round(bar, 1)}" '
                     f'height="{h}" fill="{BAR}"/>')
        cx = round(i * slot + slot / 2, 1)
        parts.append(f'<text x="{cx}" y="{round(12 + plot - h, 1)}" font-size="11" '
                     f'text-anchor="middle" fill="{INK}">{count}</text>')
        parts.append(f'<text x="{cx}" y="{height - 4}" font-size="11" text-anchor="middle" '
                     f'fill="{MUTED}">{bucket}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _days(seconds: float) -> str:
    days = seconds / 86_400
    return f"{days:.1f}d" if days < 10 else f"{days:.0f}d"


def render_html(d: Digest) -> str:
    """The digest as one self-contained HTML page."""
    e = html.escape
    out = ['<!doctype html><html><head><meta charset="utf-8">',
           f"<title>{e(d.title)}</title></head>",
           f'<body style="font-family:sans-serif;font-size:14px;color:{INK};max-width:760px;'
           'margin:16px auto">',
           f"<h1 style=\"font-size:20px\">{e(d.title)}</h1>",
           f'<p style="color:{MUTED}">Activity and its trend against the plan for the week of '
           f"{d.week_start:%Y-%m-%d}, judged at {d.judged_at:%Y-%m-%d %H:%M} UTC. Bars: this "
           "week; thin grey bars: last week; dark ticks: the week's target.</p>",
           '<h2 style="font-size:16px">Prospects by touches received this week</h2>',
           touches_svg(d.touches),
           f'<p style="color:{MUTED}">A prospect with one or two touches has barely been '
           "worked; most replies come after several.</p>"]
    for rw in d.reps:
        out.append(f'<h2 style="font-size:16px;margin-top:24px">{e(rw.rep_id)}</h2>')
        if rw.activities:
            out.append('<table style="border-collapse:collapse">')
            for line in rw.activities:
                last = (f", last week {_num(line.last_done)}" if line.last_done is not None
                        else "")
                out.append(
                    f'<tr><td style="padding:2px 8px 2px 0">{e(ACTIVITY_WORDS[line.activity])}'
                    f'</td><td>{activity_svg(line)}</td><td style="padding-left:8px">'
                    f"{_num(line.done)} of {_num(line.target)}{last}; "
                    f'<span style="color:{MUTED}">{e(trend_words(line))}</span></td></tr>')
            out.append("</table>")
        else:
            out.append(f'<p style="color:{MUTED}">No high-impact activity logged this week '
                       "(last week there was): time off, or activities not logged?</p>")
        if rw.signals:
            out.append("<p><b>What to work on</b></p><ul>")
            out += [f"<li>{e(s['message'])}</li>" for s in rw.signals]
            out.append("</ul>")
        if rw.stuck:
            out.append("<p><b>Deals past their stage SLA</b></p><ul>")
            out += [f"<li>{e(s['opportunity_id'])} ({e(s['segment'])}): {e(s['stage'])} for "
                    f"{_days(s['dwell_s'])}, SLA {_days(s['sla_s'])}</li>" for s in rw.stuck]
            out.append("</ul>")
    if not d.reps:
        out.append("<p>No activity, signal or deal for this team in that week.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def render_text(d: Digest) -> str:
    """The digest as plain text (the email's text part)."""
    lines = [d.title, f"week of {d.week_start:%Y-%m-%d}, judged at {d.judged_at:%Y-%m-%d %H:%M} "
             "UTC", "", "Prospects by touches received: "
             + ", ".join(f"{b}: {n}" for b, n in d.touches.items()), ""]
    for rw in d.reps:
        lines.append(f"{rw.rep_id}:")
        for line in rw.activities:
            lines.append(f"  {ACTIVITY_WORDS[line.activity]}: {_num(line.done)} of "
                         f"{_num(line.target)} ({trend_words(line)})")
        if not rw.activities:
            lines.append("  no high-impact activity logged this week")
        lines += [f"  to work on: {s['message']}" for s in rw.signals]
        lines += [f"  past SLA: {s['opportunity_id']} {s['stage']} {_days(s['dwell_s'])} "
                  f"(SLA {_days(s['sla_s'])})" for s in rw.stuck]
        lines.append("")
    return "\n".join(lines)
