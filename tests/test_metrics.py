"""COCOMetric against pycocotools' COCOeval, built independently here from the same boxes."""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
from collections import Counter

import numpy as np
import pytest

from efficientdet_adapter import BBox, ClassMap, Prediction, Record
from efficientdet_adapter.metrics import COCOMetric, COCOMetricType, Metric

CLASS_MAP = ClassMap(["cat", "dog", "bird"])

ICEVISION_KEYS = [
    "AP (IoU=0.50:0.95) area=all",
    "AP (IoU=0.50) area=all",
    "AP (IoU=0.75) area=all",
    "AP (IoU=0.50:0.95) area=small",
    "AP (IoU=0.50:0.95) area=medium",
    "AP (IoU=0.50:0.95) area=large",
    "AR (IoU=0.50:0.95) area=all maxDets=1",
    "AR (IoU=0.50:0.95) area=all maxDets=10",
    "AR (IoU=0.50:0.95) area=all maxDets=100",
    "AR (IoU=0.50:0.95) area=small maxDets=100",
    "AR (IoU=0.50:0.95) area=medium maxDets=100",
    "AR (IoU=0.50:0.95) area=large maxDets=100",
]


# -- building inputs -----------------------------------------------------------------------
def make_pred(rid, gt_boxes, gt_labels, dt_boxes, dt_scores, dt_labels, iscrowds=None, areas=None,
              size=(640, 480)):
    record = Record(
        record_id=rid, filepath=None, width=size[0], height=size[1],
        labels=[CLASS_MAP.get_by_id(i) for i in gt_labels], label_ids=list(gt_labels),
        bboxes=[BBox.from_xyxy(*b) for b in gt_boxes], iscrowds=iscrowds, areas=areas,
        class_map=CLASS_MAP,
    )
    return Prediction(np.asarray(dt_boxes, np.float32).reshape(-1, 4), dt_scores, dt_labels,
                      ground_truth=record)


def random_preds(seed, num_images=20, crowd=True):
    """Boxes of every size (small, medium, large), noisy and spurious detections, some crowds."""
    rng = np.random.default_rng(seed)
    preds = []
    for rid in range(num_images):
        m = int(rng.integers(0, 6))
        wh = np.exp(rng.uniform(np.log(8), np.log(250), (m, 2)))
        xy = rng.uniform(0, 300, (m, 2))
        gt = np.concatenate([xy, xy + wh], 1)
        labels = rng.integers(1, 4, m)
        iscrowds = (rng.random(m) < 0.15).tolist() if crowd and rid % 3 == 0 else None
        areas = (wh.prod(1) * rng.uniform(0.5, 1.0, m)).tolist() if rid % 4 == 1 else None
        k = int(rng.integers(0, 15))
        dxy = rng.uniform(0, 400, (k, 2))
        dt = np.concatenate([dxy, dxy + rng.uniform(5, 200, (k, 2))], 1)
        dt_labels = rng.integers(1, 4, k)
        if m:  # noisy copies of the ground truth, some with the wrong class
            noisy = gt + rng.normal(0, 0.08, (m, 4)) * np.concatenate([wh, wh], 1)
            dt = np.concatenate([noisy, dt])
            relabel = np.where(rng.random(m) < 0.8, labels, rng.integers(1, 4, m))
            dt_labels = np.concatenate([relabel, dt_labels])
        scores = rng.random(len(dt))
        preds.append(make_pred(rid, gt, labels, dt, scores, dt_labels, iscrowds, areas))
    return preds


def reference(preds, iou_thresholds=None, cat_ids=None, first_ann_id=1):
    """Stats of a direct COCOeval: images in the given order, ids from ``first_ann_id``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, results = [], [], []
    for image_id, p in enumerate(preds, start=1):
        r = p.ground_truth
        images.append({"id": image_id, "width": r.width, "height": r.height})
        for j, (b, lab) in enumerate(zip(r.bboxes, r.label_ids)):
            anns.append({
                "id": len(anns) + first_ann_id, "image_id": image_id, "category_id": int(lab),
                "bbox": [b.xmin, b.ymin, b.xmax - b.xmin, b.ymax - b.ymin],
                "area": r.areas[j] if r.areas is not None else b.area,
                "iscrowd": int(r.iscrowds[j]) if r.iscrowds is not None else 0,
            })
        rows = zip(p.boxes.tolist(), p.scores.tolist(), p.label_ids.tolist())
        for (x1, y1, x2, y2), s, lab in rows:
            if s > 0:
                results.append({"image_id": image_id, "category_id": lab, "score": s,
                                "bbox": [x1, y1, x2 - x1, y2 - y1]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": i, "name": n} for i, n in enumerate(CLASS_MAP) if i]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        if iou_thresholds is not None:
            ev.params.iouThrs = np.asarray(iou_thresholds, dtype=np.float64)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def run_metric(preds, **kwargs):
    metric = COCOMetric(**kwargs)
    metric.accumulate(preds)
    return metric.finalize()


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


# -- equality with pycocotools ----------------------------------------------------------------
GT_BOX = (10.0, 20.0, 110.0, 120.0)  # 100 x 100: "large" (area > 96**2)

HAND_CASES = {
    "perfect": [make_pred(0, [GT_BOX], [1], [GT_BOX], [0.9], [1])],
    "shifted": [make_pred(0, [GT_BOX], [1], [(30.0, 20.0, 130.0, 120.0)], [0.9], [1])],
    "wrong_class": [make_pred(0, [GT_BOX], [1], [GT_BOX], [0.9], [2])],
    "crowd": [
        make_pred(0, [GT_BOX, (200, 200, 300, 300)], [1, 1],
                  [GT_BOX, GT_BOX, (200, 200, 300, 300)], [0.9, 0.8, 0.5], [1, 1, 1],
                  iscrowds=[True, False]),
    ],
    "two_classes": [
        make_pred(0, [GT_BOX, (200, 200, 230, 220)], [1, 2],
                  [GT_BOX, (205, 200, 235, 220), (0, 0, 50, 50)], [0.9, 0.7, 0.8], [1, 2, 2]),
        make_pred(1, [(5, 5, 60, 45)], [3], [(5, 5, 60, 45), (6, 5, 61, 45)], [0.3, 0.4], [3, 3]),
    ],
}


@pytest.mark.parametrize("case", sorted(HAND_CASES))
def test_hand_cases_equal_direct_cocoeval(case):
    preds = HAND_CASES[case]
    logs = run_metric(preds)
    assert list(logs)[:12] == ICEVISION_KEYS
    assert [logs[k] for k in ICEVISION_KEYS] == reference(preds).tolist()
    for cat_id, name in enumerate(CLASS_MAP):
        if cat_id:
            expected = reference(preds, cat_ids=[cat_id])[0]
            assert logs[f"AP (IoU=0.50:0.95) area=all class={name}"] == expected


@pytest.mark.parametrize("case, ap, ap50, ap75, ap_large", [
    ("perfect", 1.0, 1.0, 1.0, 1.0),
    ("wrong_class", 0.0, 0.0, 0.0, 0.0),
    # the crowd box absorbs both detections on it: neither is a false positive
    ("crowd", 1.0, 1.0, 1.0, 1.0),
])
def test_hand_cases_values(case, ap, ap50, ap75, ap_large):
    logs = run_metric(HAND_CASES[case])
    got = [logs[k] for k in ("AP (IoU=0.50:0.95) area=all", "AP (IoU=0.50) area=all",
                             "AP (IoU=0.75) area=all", "AP (IoU=0.50:0.95) area=large")]
    assert got == pytest.approx([ap, ap50, ap75, ap_large], abs=1e-12)
    assert logs["AP (IoU=0.50:0.95) area=small"] == -1.0  # no small ground truth


def test_shifted_box_scores_the_thresholds_its_iou_passes():
    pred = HAND_CASES["shifted"][0]
    overlap = iou(GT_BOX, tuple(pred.boxes[0].tolist()))  # 80 / 120
    thresholds = np.linspace(0.5, 0.95, 10)
    logs = run_metric([pred])
    assert logs["AP (IoU=0.50:0.95) area=all"] == pytest.approx(np.mean(thresholds <= overlap))
    ap50, ap75 = logs["AP (IoU=0.50) area=all"], logs["AP (IoU=0.75) area=all"]
    assert (ap50, ap75) == pytest.approx((1.0, 0.0))


def test_crowd_flag_changes_the_result():
    with_crowd = HAND_CASES["crowd"][0]
    plain = make_pred(0, [GT_BOX, (200, 200, 300, 300)], [1, 1], with_crowd.boxes,
                      with_crowd.scores, with_crowd.label_ids)
    ap_plain = run_metric([plain])["AP (IoU=0.50:0.95) area=all"]
    assert ap_plain == reference([plain])[0]
    assert ap_plain < 0.9
    assert run_metric([with_crowd])["AP (IoU=0.50:0.95) area=all"] == pytest.approx(1.0)


def test_per_class_ap_named_by_class():
    logs = run_metric(HAND_CASES["two_classes"])
    per_class = {k: v for k, v in logs.items() if "class=" in k}
    names = ("cat", "dog", "bird")
    assert list(per_class) == [f"AP (IoU=0.50:0.95) area=all class={n}" for n in names]
    assert per_class["AP (IoU=0.50:0.95) area=all class=cat"] == pytest.approx(1.0)
    assert 0.0 < per_class["AP (IoU=0.50:0.95) area=all class=dog"] < 1.0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("iou_thresholds", [None, [0.5], [0.3, 0.5, 0.75]])
def test_random_boxes_equal_direct_cocoeval(seed, iou_thresholds):
    preds = random_preds(seed)
    metric = COCOMetric(iou_thresholds=iou_thresholds)
    metric.accumulate(preds[:7])
    metric.accumulate(preds[7:])
    logs = metric.finalize()
    stats = reference(preds, iou_thresholds)
    values = list(logs.values())
    # keys without a single-threshold AP read -1 in pycocotools' table; ours leaves them out
    present = [i for i, k in enumerate(ICEVISION_KEYS) if i not in (1, 2)
               or (iou_thresholds is None or [0.5, 0.75][i - 1] in iou_thresholds)]
    if iou_thresholds == [0.5]:
        present.remove(1)  # "AP (IoU=0.50)" is the averaged key itself
    assert values[: len(present)] == [stats[i] for i in present]
    assert stats[0] > 0.05  # the random case is not degenerate
    class_values = values[len(present):]
    assert class_values == [reference(preds, iou_thresholds, cat_ids=[c])[0] for c in (1, 2, 3)]


def test_accumulation_order_does_not_matter():
    preds = random_preds(3)
    assert run_metric(preds[::-1]) == run_metric(preds)
    # equal scores in two images: COCO breaks the tie by image order, which we take from record_id
    hit = make_pred(0, [GT_BOX], [1], [GT_BOX], [0.5], [1])
    miss = make_pred(1, [GT_BOX], [1], [(300, 300, 400, 400)], [0.5], [1])
    logs = run_metric([miss, hit])
    assert logs == run_metric([hit, miss])
    assert reference([hit, miss])[0] != reference([miss, hit])[0]  # the tie matters
    assert logs["AP (IoU=0.50:0.95) area=all"] == reference([hit, miss])[0]


# -- options and key names --------------------------------------------------------------------
def test_default_keys_are_icevisions():
    metric = COCOMetric()
    assert metric.keys == ICEVISION_KEYS
    assert metric.name == "COCOMetric" and isinstance(metric, Metric)
    assert metric.class_key("cat") == "AP (IoU=0.50:0.95) area=all class=cat"


@pytest.mark.parametrize("thresholds, averaged, single", [
    ([0.5], "0.50", []),
    ([0.75, 0.5], "0.50:0.75", ["0.50", "0.75"]),
    ([0.6, 0.7, 0.8], "0.60:0.80", []),
    ([0.5, 0.55, 0.6, 0.65, 0.7], "0.50:0.70", ["0.50"]),
])
def test_iou_thresholds_apply_and_name_the_keys(thresholds, averaged, single):
    pred = HAND_CASES["shifted"][0]  # IoU 0.667 with its ground truth
    overlap = iou(GT_BOX, tuple(pred.boxes[0].tolist()))
    logs = run_metric([pred], iou_thresholds=thresholds)
    metric = COCOMetric(iou_thresholds=thresholds)
    assert list(logs)[: len(metric.keys)] == metric.keys
    assert metric.keys[0] == f"AP (IoU={averaged}) area=all"
    singles = [k for k in metric.keys[1:] if re.fullmatch(r"AP \(IoU=0\.\d\d\) area=all", k)]
    assert singles == [f"AP (IoU={t}) area=all" for t in single]
    assert logs[metric.keys[0]] == pytest.approx(np.mean(np.asarray(thresholds) <= overlap))
    assert logs[metric.keys[0]] == reference([pred], sorted(thresholds))[0]
    assert len(metric.keys) == 10 + len(single)


def test_iou_thresholds_change_the_result():
    pred = HAND_CASES["shifted"][0]
    default = run_metric([pred])["AP (IoU=0.50:0.95) area=all"]
    loose = run_metric([pred], iou_thresholds=[0.5, 0.6])["AP (IoU=0.50:0.60) area=all"]
    strict = run_metric([pred], iou_thresholds=[0.7, 0.9])["AP (IoU=0.70:0.90) area=all"]
    assert (default, loose, strict) == pytest.approx((0.4, 1.0, 0.0))


@pytest.mark.parametrize("kwargs, message", [
    ({"metric_type": COCOMetricType.mask}, "masks"),
    ({"metric_type": "segm"}, "masks"),
    ({"iou_thresholds": []}, "non-empty"),
    ({"iou_thresholds": [0.5, 1.5]}, "(0, 1]"),
])
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("]", r"\]")):
        COCOMetric(**kwargs)


def test_metric_type_bbox_by_name():
    assert COCOMetric(metric_type="bbox").metric_type is COCOMetricType.bbox


@pytest.mark.parametrize("print_summary", [True, False])
def test_print_summary(print_summary, capsys):
    run_metric(HAND_CASES["perfect"], print_summary=print_summary)
    out = capsys.readouterr().out
    line = "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"
    assert (line in out) == print_summary
    if not print_summary:
        assert out == ""


# -- input rules ------------------------------------------------------------------------------
def test_annotation_ids_are_renumbered_from_one():
    preds = HAND_CASES["perfect"]
    # pycocotools reads annotation id 0 as "unmatched": a Roboflow-style id 0 scores a perfect box 0
    assert reference(preds, first_ann_id=0)[0] == 0.0
    ours = run_metric(preds)["AP (IoU=0.50:0.95) area=all"]
    assert ours == reference(preds)[0] == pytest.approx(1.0)


def test_effdet_zero_padding_rows_are_ignored():
    real = HAND_CASES["two_classes"]
    padded = [
        Prediction(np.concatenate([p.boxes, np.zeros((5, 4), np.float32)]),
                   np.concatenate([p.scores, np.zeros(5)]),
                   np.concatenate([p.label_ids, np.zeros(5)]),  # effdet's rows: all six zeros
                   ground_truth=p.ground_truth)
        for p in real
    ]
    logs = run_metric(padded)
    assert logs == run_metric(real)
    assert not any("class=background" in k or "class=0" in k for k in logs)


def test_all_detections_are_scored_not_only_the_thresholded_ones():
    pred = HAND_CASES["perfect"][0].with_threshold(0.95)  # hides its only (0.9) detection
    assert len(pred) == 0
    assert run_metric([pred])["AP (IoU=0.50:0.95) area=all"] == pytest.approx(1.0)


def test_record_areas_decide_the_area_range():
    # a 100 x 100 box (large by its box area) whose COCO segmentation area is small
    logs = run_metric([make_pred(0, [GT_BOX], [1], [GT_BOX], [0.9], [1], areas=[500.0])])
    assert logs["AP (IoU=0.50:0.95) area=small"] == pytest.approx(1.0)
    assert logs["AP (IoU=0.50:0.95) area=large"] == -1.0


def test_prediction_without_ground_truth_raises():
    with pytest.raises(ValueError, match="ground_truth=None"):
        COCOMetric().accumulate([Prediction(np.zeros((0, 4)), [], [])])


# -- empty cases and reset --------------------------------------------------------------------
@pytest.mark.parametrize("print_summary", [False, True])
def test_nothing_accumulated_gives_minus_one(print_summary):
    metric = COCOMetric(print_summary=print_summary)
    assert metric.finalize() == {k: -1.0 for k in ICEVISION_KEYS}


def test_no_detections_score_zero_where_there_is_ground_truth():
    medium = (0, 0, 50, 40)  # area 2000: medium
    logs = run_metric([make_pred(0, [medium], [2], [], [], [])])
    assert logs["AP (IoU=0.50:0.95) area=all"] == logs["AP (IoU=0.50:0.95) area=medium"] == 0.0
    assert logs["AR (IoU=0.50:0.95) area=all maxDets=100"] == 0.0
    assert logs["AP (IoU=0.50:0.95) area=small"] == logs["AP (IoU=0.50:0.95) area=large"] == -1.0
    assert logs["AP (IoU=0.50:0.95) area=all class=dog"] == 0.0
    assert logs["AP (IoU=0.50:0.95) area=all class=cat"] == -1.0


@pytest.mark.parametrize("dt_boxes, scores, labels", [
    ([GT_BOX], [0.9], [1]),  # detections, no ground truth
    ([], [], []),  # an image with neither
])
def test_no_ground_truth_gives_minus_one(dt_boxes, scores, labels):
    logs = run_metric([make_pred(0, [], [], dt_boxes, scores, labels)])
    assert set(logs.values()) == {-1.0}
    assert len(logs) == 12 + 3


def test_finalize_resets():
    a, b = random_preds(5), random_preds(6)
    metric = COCOMetric()
    metric.accumulate(a)
    assert metric.num_images == len(a)
    first = metric.finalize()
    assert metric.num_images == 0
    metric.accumulate(b)
    assert metric.finalize() == run_metric(b) != first
    assert metric.finalize() == {k: -1.0 for k in ICEVISION_KEYS}


def test_accumulate_copies_its_inputs():
    pred = make_pred(0, [GT_BOX], [1], [GT_BOX], [0.9], [1])
    metric = COCOMetric()
    metric.accumulate([pred])
    pred.boxes[:] = 0  # a loop reusing its buffers must not change what was accumulated
    pred.ground_truth.bboxes.clear()
    assert metric.finalize()["AP (IoU=0.50:0.95) area=all"] == pytest.approx(1.0)


# -- DDP: a real 2-process gloo run -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world_size, port, preds, out_dir):
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        # DistributedSampler pads an odd-sized set by repeating images on some rank
        indices = list(DistributedSampler(range(len(preds)), num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=0))
        metric = COCOMetric()
        for start in range(0, len(indices), 4):
            metric.accumulate([preds[i] for i in indices[start:start + 4]])
        (out_dir / f"rank{rank}.json").write_text(json.dumps(metric.finalize()))
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_report_the_whole_set(tmp_path):
    import torch.multiprocessing as mp

    from torch.utils.data import DistributedSampler

    preds = random_preds(7, num_images=21)
    mp.spawn(_ddp_worker, args=(2, _free_port(), preds, tmp_path), nprocs=2, join=True)
    single = run_metric(preds)
    for rank in range(2):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == single
    # the sampler repeated one image; counted twice, it would change the result
    seen = Counter(i for r in range(2) for i in DistributedSampler(range(21), 2, r, seed=0))
    (dup,) = [i for i, n in seen.items() if n == 2]
    assert run_metric(preds + [preds[dup]]) != single


@pytest.mark.parametrize("show_pbar", [True, False])
def test_show_pbar(show_pbar, capsys):
    run_metric(random_preds(2, num_images=5), show_pbar=show_pbar)
    err = capsys.readouterr().err
    assert ("COCOMetric: 100%" in err and "5/5" in err) == show_pbar
