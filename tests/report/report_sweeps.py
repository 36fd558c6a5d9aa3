"""Sweep files in the shapes of the write-ups' tables (000, 002, 004), on the digits models.

The data and models do not matter to a report (nothing is trained); what matters is the
plan each file makes (keys, stages, points, seeds) and the tables it declares.
"""

from __future__ import annotations

BASE = """\
base:
  epochs: 2
  data: {{name: digits, workers: 0}}
  student: {{arch: digits_student}}
  teacher: {{run: {teacher}}}
  optim: {{name: {optim}, lr: {lr}}}
  loss: {loss}
stages:
  {teacher}:
    student: {{arch: digits_teacher}}
"""


def base(teacher: str = "teacher", optim: str = "sgd", lr: float = 0.1, loss: str = "{kd: {T: 3, alpha: 0.9}}"
         ) -> str:
    return BASE.format(teacher=teacher, optim=optim, lr=lr, loss=loss)


# 004: ShuffleNetV2 x2.0 -> x1.0, the T x alpha grid with a partial column at T=3.
T_ALPHA = "name: {name}\n" + base("big") + """\
grid:
  loss.kd.T: [1, 3, 5, 10]
points:
  - {loss.kd.alpha: 0.7}
  - {loss.kd.alpha: 0.6}
  - {loss.kd.alpha: 0.5}
tables:
  - name: T_alpha
    kind: pivot
    title: ShuffleNetV2 x2.0 -> x1.0, top-1 (%)
    rows: loss.kd.alpha
    cols: loss.kd.T
    bold: max
    caption: When T = 3 and alpha = 0.6, we get the highest accuracy.
    reference:
      0.9: {1: 79.64, 3: 81.10, 5: 80.65, 10: 80.875}
      0.7: {3: 81.27}
      0.6: {3: 81.28}
      0.5: {3: 80.78}
"""

# 002: MobileNets-M on Caltech-101, with / without KD x scheduler x initial lr.
KD_SCHED_LR = "name: {name}\n" + base(optim="adamw", lr=0.0001, loss="{kd: {T: 5, alpha: 0.7, t2_scale: false}}") + """\
grid:
  optim.lr: [0.0001, 0.0002]
  schedule: [{name: constant}, {name: cosine, per: iter, floor: 0.1}]
  loss.kd: [{T: 5, alpha: 0.7, t2_scale: false}, null]
tables:
  - name: kd_sched_lr
    title: Influence of LR scheduler
    columns:
      - {key: student.arch, label: Network, labels: {digits_student: MobileNets-M}}
      - {key: data.name, label: Dataset, labels: {digits: Caltech-101}}
      - {metric: best_val_acc1, label: Top-1 Accuracy, format: "{:.1f}%"}
      - {key: loss.kd, as: check, label: with KD}
      - {key: schedule, as: check, label: with scheduler}
      - {key: optim.lr, label: initial lr}
    bold: col_max
    bold_by: optim.lr
    reference: [84.5, 82.8, 79.6, 79.9, 86.5, 86.0, 85.7, 84.6]
"""

# 000: EfficientNet-B3 -> B0 with FA / Fast FA, three seeds, accuracy at epochs 1 and 2, params/FLOPs.
FA = "name: {name}\n" + base("b3", lr=0.07, loss="{refinery: {}}") + """\
    loss: {refinery: null}
points:
  - {loss.fa: null}
  - {loss.fa: {student_layer: features, teacher_layer: features}}
  - {loss.fa: {student_layer: features, teacher_layer: features, fast: true}}
seeds: [0, 1, 2]
tables:
  - name: fa
    title: Comparison of adding FA loss. B3 as teacher, B0 as student
    stages: [b3]
    columns:
      - label: Models
        cases:
          - {when: {stage: b3}, text: B3}
          - {when: {loss.fa: null}, text: B0}
          - {when: {loss.fa.fast: false}, text: B0+FA}
          - {when: {loss.fa.fast: true}, text: B0+Fast FA}
      - {metric: best_val_acc1, agg: per_seed, label: accuracy}
      - {metric: val_acc1, epoch: [1, 2], label: acc at 1st/2nd epoch}
      - {profile: params_flops, label: Pa/Fl}
    reference:
      B3: [80.24, 80.24, 80.24]
      B0: [75.62, 76.02, 76.00]
      B0+FA: [77.56, 77.61, 77.17]
      B0+Fast FA: [77.29, 77.31, 77.39]
  - name: fa_mean
    title: Mean over seeds
    columns:
      - label: Models
        cases:
          - {when: {loss.fa: null}, text: B0}
          - {when: {loss.fa.fast: false}, text: B0+FA}
          - {when: {loss.fa.fast: true}, text: B0+Fast FA}
      - {metric: best_val_acc1, agg: mean_std, label: top-1}
      - {metric: best_val_acc1, agg: n, label: seeds}
      - {metric: val_acc1, epoch: [1, 2], label: acc at 1st/2nd epoch, reference: [9.29/16.15, 23.58/40.00]}
      - {profile: params, label: params}
      - {profile: flops, label: FLOPs}
"""

# A grid of states: seeds partly finished, failed, running, pending, never started.
STATES = "name: {name}\n" + base() + """\
grid:
  loss.kd.alpha: [0.5, 0.9]
  loss.kd.T: [2, 4]
seeds: [0, 1]
tables:
  - {name: states, kind: pivot, rows: loss.kd.alpha, cols: loss.kd.T, agg: mean_std, bold: max}
"""

# 004's model-size table: one row of accuracies under the model names (a transposed list).
SIZES = """\
name: {name}
base:
  epochs: 2
  data: {name: digits, workers: 0}
  student: {arch: digits_student}
grid:
  student.arch: [digits_student, digits_teacher]
tables:
  - name: sizes
    transpose: true
    columns:
      - key: student.arch
        labels: {digits_student: shufflenet_v2_x1_0, digits_teacher: shufflenet_v2_x2_0}
      - {metric: best_val_acc1, label: top-1}
    reference: [78.84, 80.83]
"""

# 004's lr tricks: a schedule axis whose values are mappings, labelled by their compact text.
TRICKS = """\
name: {name}
base:
  epochs: 2
  data: {name: digits, workers: 0}
  student: {arch: digits_student}
grid:
  schedule:
    - {name: step, step_size: 1}
    - {name: cosine}
    - {name: cosine, warmup_epochs: 1}
    - {name: cosine, warmup_epochs: 3}
tables:
  - name: tricks
    bold: max
    columns:
      - key: schedule
        label: tricks
        labels:
          step(step_size=1): steplr
          cosine: cosinlr
          cosine(warmup_epochs=1): cosinlr + warmup 1 epoch
          cosine(warmup_epochs=3): cosinlr + warmup 3 epoch
      - {metric: best_val_acc1, label: accuracy}
  - name: warm_only
    where: {schedule.warmup_epochs: [1, 3]}
    order: -best_val_acc1
    columns:
      - {key: schedule.warmup_epochs, label: warm-up epochs}
      - {metric: best_val_acc1, label: accuracy}
      - {metric: train_val_gap, label: train-val gap, bold: min}
    bold: max
"""

# No `tables:` at all: the default table.
NO_TABLES_GRID = "name: {name}\n" + base() + """\
grid:
  loss.kd.alpha: [0.5, 0.9]
  loss.kd.T: [2, 4]
"""

NO_TABLES_LIST = "name: {name}\n" + base() + """\
grid:
  loss.kd.T: [2, 4]
seeds: [0, 1]
"""
