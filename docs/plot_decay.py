"""Draws decay-strength.svg: strength over time for the seed's worked example (no dependencies)."""
import math

RATES = {"identity": 0.0, "preference": 0.01, "fact": 0.05, "context": 0.1, "trivial": 0.3}
EXAMPLE = [("identity", 1.0, "#1b9e77"), ("preference", 0.8, "#7570b3"), ("fact", 0.6, "#d95f02"),
           ("context", 0.3, "#e7298a"), ("trivial", 0.1, "#66a61e")]
THRESHOLD, HOURS, W, H, L, T, R, B = 0.01, 96, 760, 420, 70, 30, 150, 50
LOG_MIN, LOG_MAX = -3, 0


def x(hours): return L + (W - L - R) * hours / HOURS
def y(value): return T + (H - T - B) * (LOG_MAX - math.log10(max(value, 10 ** LOG_MIN))) / (LOG_MAX - LOG_MIN)


def strength(importance, rate, t, reads=()):
    s = importance * math.exp(-rate * t)
    if reads:
        last = max(r for r in reads if r <= t) if any(r <= t for r in reads) else None
        if last is not None:
            n = sum(1 for r in reads if r <= t)
            s += min(0.2, 0.02 * n) * math.exp(-rate * (t - last))
    return s


def path(f, colour, dash=""):
    points = " ".join(f"{x(t / 4):.1f},{y(f(t / 4)):.1f}" for t in range(HOURS * 4 + 1))
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" {dash} points="{points}"/>'


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']
for e in range(LOG_MIN, LOG_MAX + 1):
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(10 ** e):.1f}" y2="{y(10 ** e):.1f}" stroke="#ddd"/>'
               f'<text x="{L - 8}" y="{y(10 ** e) + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
for h in range(0, HOURS + 1, 12):
    out.append(f'<line x1="{x(h):.1f}" x2="{x(h):.1f}" y1="{T}" y2="{H - B}" stroke="#eee"/>'
               f'<text x="{x(h):.1f}" y="{H - B + 16}" text-anchor="middle">{h}</text>')
out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(THRESHOLD):.1f}" y2="{y(THRESHOLD):.1f}" stroke="#c00" stroke-dasharray="6,4"/>'
           f'<text x="{W - R + 6}" y="{y(THRESHOLD) + 4:.1f}" fill="#c00">forget (0.01)</text>')
for i, (kind, importance, colour) in enumerate(EXAMPLE):
    out.append(path(lambda t, k=kind, imp=importance: strength(imp, RATES[k], t), colour))
    out.append(f'<text x="{W - R + 6}" y="{T + 16 + 18 * i}" fill="{colour}">{kind} ({importance})</text>')
out.append(path(lambda t: strength(0.1, 0.3, t, reads=(1,)), "#66a61e", 'stroke-dasharray="3,3"'))
out.append(f'<text x="{W - R + 6}" y="{T + 16 + 18 * 5}" fill="#66a61e">trivial, read at 1 h</text>')
out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">hours since written</text>'
           f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" text-anchor="middle">'
           'strength = importance·decay + access bonus (log scale)</text></svg>')
open("decay-strength.svg", "w").write("\n".join(out))
