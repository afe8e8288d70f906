"""The fault suite's index: every fault pythagoras must survive, and the tests that inject it.

Faults are injected for real where this machine allows it: peers are real processes killed with
SIGKILL (their whole process group), disks are real tmpfs mounts filled up or remounted
read-only, a folder this user may not write is probed by a process its modes bind, clocks are a
peer process's own ``time.time``; see each module's docstring for how, and for the simulated
fallback where a machine allows less. Tests marked (xfail) expose a bug and are kept, strict,
so that the fix flips them.

=================================== ================================================================
fault                               tests
=================================== ================================================================
a peer SIGKILLed mid-call           tests/swarm/test_swarm_processes.py::test_a_killed_peers_call_is_run_again_by_a_survivor
                                    tests/faults/test_random_kills.py::test_a_killed_peers_call_runs_elsewhere
                                    (recovery time; a same-host peer and one that looks remote)
peers SIGKILLed at random, under    tests/faults/test_random_kills.py::test_random_sigkills_lose_no_call_and_answer_none_wrongly
load (no call lost, none wrong)
a stale lease is broken by one      tests/swarm/test_protocol.py::test_a_stale_lease_is_broken_by_exactly_one_peer
peer, at once for a dead local pid  tests/swarm/test_protocol.py::test_a_fresh_claim_of_a_process_of_this_machine_that_is_gone_is_broken_at_once
                                    tests/swarm/test_protocol.py::test_breaking_a_dead_breakers_claim_removes_its_marker
a peer paused past its lease        tests/swarm/test_protocol.py::test_a_stale_lease_is_broken_by_exactly_one_peer
(renewal finds it lost)
a worker process dies beside        tests/executor/test_crashes.py::test_a_worker_crash_does_not_fail_the_calls_running_beside_it
other calls, or inside a batch      tests/executor/test_crashes.py::test_a_batch_with_a_call_that_kills_its_worker_keeps_its_other_values
a poison call that kills its        tests/faults/test_poison_calls.py::test_a_call_that_kills_its_worker_fails_after_max_attempts
worker, or its whole peer           tests/faults/test_poison_calls.py::test_a_call_that_kills_its_peer_fails_after_max_attempts_across_peers
(PeersDied after max_attempts)      tests/swarm/test_protocol.py::test_calls_whose_peers_keep_dying_end_in_a_failure
a frame truncated, grown, flipped,  tests/records/test_frames.py::test_truncated_frame_is_corrupt
or garbage                          tests/records/test_frames.py::test_appended_bytes_are_corrupt
                                    tests/records/test_frames.py::test_flipped_byte_is_corrupt
                                    tests/records/test_frames.py::test_garbage_is_corrupt
                                    tests/records/test_frames.py::test_corrupt_result_reads_as_missing_and_is_reported_once
                                    tests/storage/test_local_store.py::test_a_truncated_record_file_reads_as_corrupt
                                    tests/storage/test_local_store.py::test_a_record_that_grew_reads_as_corrupt
a corrupt result (recomputed,       tests/faults/test_corrupt_records.py::test_a_corrupt_result_is_recomputed_by_the_submitter
never returned)                     tests/faults/test_corrupt_records.py::test_a_corrupt_result_is_recomputed_by_a_pure_function_called_directly
                                    tests/memory/test_memory.py::test_a_corrupt_record_is_computed_again_and_repaired
                                    tests/faults/test_corrupt_records.py::test_a_corrupt_outcome_is_recomputed_for_a_client_served_by_another_peer
a corrupt failure record            tests/swarm/test_protocol.py::test_a_corrupt_failure_record_reads_as_absent
                                    tests/faults/test_corrupt_records.py::test_a_corrupt_outcome_is_recomputed_for_a_client_served_by_another_peer
a corrupt request, claim, function, tests/faults/test_corrupt_records.py::test_a_corrupt_request_is_skipped_and_replaced_by_the_next_submitter
large argument or peer record       tests/faults/test_corrupt_records.py::test_a_corrupt_claim_is_held_until_it_is_stale_then_broken
                                    tests/faults/test_corrupt_records.py::test_a_corrupt_function_or_argument_is_replaced_by_the_next_submitter
                                    tests/faults/test_corrupt_records.py::test_a_corrupt_peer_record_is_ignored
sync debris: conflicted copies,     tests/storage/test_local_store.py::test_debris_is_not_listed_and_does_not_break_reads
temp names, renamed copies          tests/storage/_store_contract.py::test_debris_named_keys_are_not_listed
                                    tests/storage/_store_contract.py::test_list_never_shows_temp_files_while_writing
                                    tests/storage/test_fsspec_store.py::test_sync_debris_beside_objects_is_not_listed
                                    tests/swarm/test_protocol.py::test_names_pythagoras_did_not_write_are_no_requests
                                    tests/faults/test_sync_debris.py::test_debris_appearing_while_peers_work_is_never_taken_for_a_record
partial arrivals and conflicts      tests/syncfolder/test_sync_folder.py::test_two_peers_on_synced_replicas_both_get_every_value
between replicas of a synced folder tests/syncfolder/test_sync_folder.py::test_a_worker_on_the_other_replica_serves_a_submitter_without_workers
a full disk                         tests/faults/test_store_errors.py::test_a_full_disk_refuses_new_calls_clearly_and_they_run_once_space_is_freed
                                    tests/faults/test_store_errors.py::test_a_pure_function_called_on_a_full_disk_raises_the_oserror
                                    tests/faults/test_store_errors.py::test_a_value_too_big_for_the_disk_fails_at_a_client_with_a_store_error
                                    tests/faults/test_store_errors.py::test_a_client_waits_out_a_disk_too_full_for_even_the_failure_and_gets_the_value
a read-only folder                  tests/faults/test_store_errors.py::test_a_read_only_folder_serves_stored_values_and_refuses_new_calls_clearly
a folder this user may not write    tests/faults/test_store_errors.py::test_a_folder_refused_to_this_process_serves_stored_values_and_refuses_new_calls
                                    tests/faults/test_store_errors.py::test_a_folder_refused_by_the_store_serves_stored_values_and_refuses_new_calls
                                    tests/cli/test_cli.py::test_an_unreadable_folder
                                    tests/cli/test_cli.py::test_permission_denied_in_process
a store error while a value is      tests/faults/test_store_errors.py::test_a_store_error_while_the_value_is_stored_reaches_the_caller
stored (full, read-only, refused)
a location that cannot be opened    tests/executor/test_executor.py::test_a_location_that_cannot_be_opened_is_a_broken_executor
clocks minutes apart                tests/faults/test_clock_skew.py::test_clocks_minutes_apart_break_no_live_lease_and_still_break_a_dead_ones
                                    tests/swarm/test_protocol.py::test_skew_measured_by_the_store_corrects_lease_ages
                                    tests/swarm/test_protocol.py::test_announce_measures_skew_against_the_store
                                    tests/storage/test_fsspec_store.py::test_ages_are_corrected_by_the_stores_clock
peers racing to create or break     tests/storage/test_concurrent_writers.py::test_eight_peers_write_read_and_claim_the_same_keys
a claim                             tests/storage/test_fsspec_store.py::test_a_409_conditional_conflict_is_tried_again
a job killed half way, run again    tests/joblib_backend/test_grid_search.py::test_a_search_killed_half_way_resumes_where_it_stopped
load: 10,000 calls, 4 peers,        tests/faults/test_soak.py::test_soak_every_call_answered_right_through_random_restarts
random restarts (short form in CI)
=================================== ================================================================

Signed records and bad input are tested with their features, not here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"tests/([\w/]+\.py)::(\w+)")


def _references() -> list[tuple[str, str]]:
    return REFERENCE.findall(__doc__ or "")


def test_the_index_names_tests() -> None:
    assert len(_references()) > 40


@pytest.mark.parametrize("path, name", _references(), ids=lambda value: value)
def test_every_test_in_the_index_exists(path: str, name: str) -> None:
    source = (TESTS / path).read_text()
    assert re.search(rf"^\s*def {name}\(", source, re.MULTILINE), f"tests/{path} has no {name}"
