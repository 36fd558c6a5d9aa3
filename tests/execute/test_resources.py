"""Slots: what each job asks Ray for, from Ray's view of the cluster (no Ray needed here)."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.execute.resources import parse_gpu_list, plan_slots


def test_gpu_jobs_share_devices_and_split_the_cpus():
    slots = plan_slots({"CPU": 16, "GPU": 4}, jobs_per_gpu=2)
    assert slots.use_gpu and slots.concurrency == 8
    assert slots.ray_options() == {"num_gpus": 0.5, "num_cpus": 2.0}
    assert slots.threads == 2


def test_one_job_per_gpu_by_default():
    slots = plan_slots({"CPU": 8, "GPU": 2})
    assert slots.ray_options() == {"num_gpus": 1.0, "num_cpus": 4.0} and slots.concurrency == 2


def test_fewer_cpus_than_gpu_jobs_gives_fractional_cpus_and_one_thread():
    slots = plan_slots({"CPU": 2, "GPU": 4}, jobs_per_gpu=2)
    assert slots.ray_options() == {"num_gpus": 0.5, "num_cpus": 0.25} and slots.threads == 1


def test_cpu_only_workers_get_their_share_of_threads():
    slots = plan_slots({"CPU": 8}, cpu_workers=3)
    assert not slots.use_gpu and slots.concurrency == 3 and slots.ray_options() == {"num_cpus": 2.0}


def test_without_gpus_one_single_thread_job_per_core_by_default():
    slots = plan_slots({"CPU": 2})
    assert slots.concurrency == 2 and slots.threads == 1
    assert slots.description == "CPU only: 2 job(s) x 1 threads"
    assert plan_slots({"CPU": 64}).concurrency == 8  # capped: every worker holds its own torch


def test_cpu_flag_ignores_gpus():
    assert not plan_slots({"CPU": 4, "GPU": 2}, force_cpu=True).use_gpu


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"jobs_per_gpu": 0}, "--jobs-per-gpu"),
    ({"cpu_workers": 0}, "--cpu-workers"),
    ({"cpu_workers": 9}, "only 8 CPUs"),
])
def test_bad_slot_options_are_user_errors(kwargs, text):
    with pytest.raises(UserError, match=text):
        plan_slots({"CPU": 8}, **kwargs)


def test_gpu_list():
    assert parse_gpu_list("0,2") == [0, 2]
    assert parse_gpu_list(None) is None
    for bad in ("a", "0,0", "", "-1"):
        with pytest.raises(UserError, match="--gpus"):
            parse_gpu_list(bad)
