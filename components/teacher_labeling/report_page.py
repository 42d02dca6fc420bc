"""The augmentation report of TeacherLabeling: counts, reasons and example rows, as JSON, text and HTML."""
import collections
import html
from typing import Dict, List, Mapping

import tensorflow as tf

from components.teacher_labeling import filtering, views
from models import features

HTML_FILE = "report.html"
EXAMPLES_PER_REASON = 3
_SHOWN = (features.QUERY, features.PRODUCT_TITLE, features.ORIGIN, filtering.TEACHER_SCORE,
          filtering.CROSS_ENCODER_GAIN, filtering.ZERO_SHOT_COSINE, filtering.ZERO_SHOT_GAIN)
_SHOWN_KEPT = (features.QUERY, features.PRODUCT_TITLE, features.ORIGIN, features.RELEVANCE, features.WEIGHT)


def _example(row: Mapping, shown=_SHOWN) -> Dict:
    return {name: (round(row[name], 4) if isinstance(row[name], float) else row[name])
            for name in shown if name in row}


def build(outcome: filtering.Outcome, labelled_train_rows: int, settings: Mapping, seconds: float,
          teacher_views: Mapping) -> Dict:
    """The report's JSON document; in (candidates) = kept + rejected is checked here too. teacher_views: the
    views.ViewsFit of the labels, as a dict (its weights and each view's NDCG@10 on the eval split)."""
    rejected_by_origin = collections.defaultdict(collections.Counter)
    examples: Dict[str, List[Dict]] = collections.defaultdict(list)
    for reason, row in outcome.rejected:
        rejected_by_origin[row[features.ORIGIN]][reason] += 1
        if len(examples[reason]) < EXAMPLES_PER_REASON:
            examples[reason].append(_example(row))
    kept_by_origin = collections.Counter(row[features.ORIGIN] for row in outcome.kept)
    candidates_in = len(outcome.kept) + len(outcome.rejected)
    report = {
        "stage": "teacher_labeling",
        "labelled_train_rows": labelled_train_rows,
        "candidates_in": candidates_in,
        "kept": len(outcome.kept),
        "rejected": len(outcome.rejected),
        "kept_by_origin": dict(kept_by_origin),
        "rejected_by_reason": outcome.counts(),
        "rejected_by_origin": {origin: dict(c) for origin, c in rejected_by_origin.items()},
        "examples_kept": [_example(row, _SHOWN_KEPT) for row in outcome.kept[:EXAMPLES_PER_REASON * 2]],
        "examples_rejected": dict(examples),
        "training_rows": labelled_train_rows + len(outcome.kept),
        "settings": dict(settings),
        "teacher_views": dict(teacher_views),
        "seconds": round(seconds, 2),
    }
    if report["kept"] + report["rejected"] != report["candidates_in"]:
        raise AssertionError(f"augmentation ledger does not add up: {report}")
    return report


def render_text(report: Mapping) -> str:
    lines = [f"Augmentation: {report['candidates_in']} candidates in -> {report['kept']} kept, "
             f"{report['rejected']} rejected; training rows {report['labelled_train_rows']} labelled + "
             f"{report['kept']} augmented = {report['training_rows']}",
             f"  kept by origin: {report['kept_by_origin']}"]
    for reason, count in sorted(report["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  rejected {reason:<22} {count:6d}")
    lines += [f"  {line}" for line in views.describe(views.ViewsFit.from_dict(report["teacher_views"]))]
    return "\n".join(lines)


def write_html(report: Mapping, path: str) -> None:
    """A page a person can read: the ledger, reasons with example rows, the settings."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(reason)}</td><td>{count}</td><td>{e(str(report['examples_rejected'].get(reason, [])))}"
                   f"</td></tr>" for reason, count in sorted(report["rejected_by_reason"].items()))
    kept = "".join(f"<li>{e(str(example))}</li>" for example in report["examples_kept"])
    teacher = "<br>".join(e(line) for line in views.describe(views.ViewsFit.from_dict(report["teacher_views"])))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Augmentation report</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px}}table{{border-collapse:collapse}}</style>
</head><body><h1>Augmentation report</h1>
<p>{report['labelled_train_rows']} labelled train rows; {report['candidates_in']} candidates in =
{report['kept']} kept + {report['rejected']} rejected; {report['training_rows']} training rows out.</p>
<p>Kept by origin: {e(str(report['kept_by_origin']))}</p>
<h2>Rejected, by reason</h2><table><tr><th>reason</th><th>rows</th><th>examples</th></tr>{rows}</table>
<h2>Teacher views</h2><p>{teacher}</p>
<h2>Kept (examples)</h2><ul>{kept}</ul>
<h2>Settings</h2><pre>{e(str(report['settings']))}</pre></body></html>
"""
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(page)
