"""RunStatus: the one status type engine, tracking, execute and report share."""

from kdsweep.status import RunStatus


def test_finished_states_are_the_ended_ones():
    assert {s for s in RunStatus if s.is_finished()} == {
        RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.NOT_RUN, RunStatus.PRUNED}
    assert not RunStatus.RUNNING.is_finished() and not RunStatus.PENDING.is_finished()
    assert RunStatus.PRUNED.is_success() and not RunStatus.FAILED.is_success()


def test_words_tags_and_mlflow_statuses():
    assert RunStatus.NOT_RUN.word == "not run" and RunStatus.FINISHED.word == "finished"
    assert RunStatus.FINISHED == "FINISHED" and f"{RunStatus.FAILED}" == "FAILED"  # the tag text itself
    assert RunStatus.NOT_RUN.mlflow_status == "KILLED" and RunStatus.PRUNED.mlflow_status == "KILLED"
    assert RunStatus.PENDING.mlflow_status == "SCHEDULED" and RunStatus.FAILED.mlflow_status == "FAILED"


def test_parse_reads_tags_mlflow_statuses_and_words():
    assert RunStatus.parse("SCHEDULED") is RunStatus.PENDING
    assert RunStatus.parse("not run") is RunStatus.NOT_RUN
    assert RunStatus.parse("finished") is RunStatus.FINISHED
    assert RunStatus.parse("STOPPED") is None and RunStatus.parse("") is None
