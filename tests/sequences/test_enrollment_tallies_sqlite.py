"""Zero-config mode (SQLite) keeps the enrollment tallies (by user and by sequence and
step) with row triggers of its own: here they run in an in-memory SQLite database
holding the columns they read, through a random mix of the writes the app makes, and
must equal a recount after it."""
import random
import sqlite3

from sequences.tally_triggers import BACKFILL, SEQUENCE_BACKFILL, SQLITE_SEQUENCE_TRIGGERS, SQLITE_TRIGGERS

SCHEMA = [
    "CREATE TABLE contacts_contact (id INTEGER PRIMARY KEY, tenant_id INTEGER, owner_id INTEGER)",
    "CREATE TABLE sequences_enrollment (id INTEGER PRIMARY KEY, tenant_id INTEGER, contact_id INTEGER,"
    " enrolled_by_id INTEGER, status TEXT, next_run_at TEXT, sequence_id INTEGER, current_step_id INTEGER)",
    "CREATE TABLE sequences_enrollmenttally (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id INTEGER,"
    " user_id INTEGER, status TEXT, delta INTEGER)",
    "CREATE TABLE sequences_sequencetally (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id INTEGER,"
    " sequence_id INTEGER, step_id INTEGER, status TEXT, delta INTEGER)",
]
SEQUENCES = {1: {10: [101, 102, 103], 11: [111]}, 2: {20: [201, 202]}}  # tenant -> sequence -> steps
STATUSES = ["active", "paused", "completed", "unenrolled", "failed"]
USERS = {1: [1, 2, 3], 2: [9]}  # tenant -> members; tenant 2 is the outsider


def _database():
    db = sqlite3.connect(":memory:")
    for statement in SCHEMA + SQLITE_TRIGGERS + SQLITE_SEQUENCE_TRIGGERS:
        db.execute(statement)
    return db


def _tallies(db):
    return dict(((t, u, s), n) for t, u, s, n in db.execute(
        "SELECT tenant_id, user_id, status, SUM(delta) FROM sequences_enrollmenttally"
        " GROUP BY 1, 2, 3 HAVING SUM(delta) <> 0"))


def _recount(db):
    """Straight from the definition: per enrollment, each distinct user among the
    contact's owner and the enrolling user."""
    counts = {}
    rows = db.execute("SELECT e.tenant_id, e.status, c.owner_id, e.enrolled_by_id FROM sequences_enrollment e"
                      " LEFT JOIN contacts_contact c ON c.id = e.contact_id")
    for tenant, status, owner, enrolled_by in rows:
        for user in {owner, enrolled_by} - {None}:
            counts[tenant, user, status] = counts.get((tenant, user, status), 0) + 1
    return counts


def _sequence_tallies(db):
    return dict(((t, s, step, status), n) for t, s, step, status, n in db.execute(
        "SELECT tenant_id, sequence_id, step_id, status, SUM(delta) FROM sequences_sequencetally"
        " GROUP BY 1, 2, 3, 4 HAVING SUM(delta) <> 0"))


def _sequence_recount(db):
    counts = {}
    for key in db.execute("SELECT tenant_id, sequence_id, current_step_id, status FROM sequences_enrollment"):
        counts[key] = counts.get(key, 0) + 1
    return counts


def _a_step(rng, tenant, sequence_id):
    return rng.choice(SEQUENCES[tenant][sequence_id] + [None])


def _workload(db, rng, steps):
    for _ in range(steps):
        tenant = rng.choice([1, 2])
        contacts = [r[0] for r in db.execute("SELECT id FROM contacts_contact WHERE tenant_id = ?", [tenant])]
        enrollments = [r[0] for r in db.execute("SELECT id FROM sequences_enrollment WHERE tenant_id = ?", [tenant])]
        member = rng.choice(USERS[tenant] + [None])
        sequence_id = rng.choice(list(SEQUENCES[tenant]))
        action = rng.choice(["contact", "enroll", "enroll_many", "status", "status_many", "lease", "owner",
                             "owner_many", "member_gone", "delete", "delete_contact", "next_step", "step_gone",
                             "restart"])
        if action == "contact" or not contacts:
            db.execute("INSERT INTO contacts_contact (tenant_id, owner_id) VALUES (?, ?)", [tenant, member])
        elif action == "enroll":
            db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, enrolled_by_id, status,"
                       " sequence_id, current_step_id) VALUES (?, ?, ?, 'active', ?, ?)",
                       [tenant, rng.choice(contacts), member, sequence_id, SEQUENCES[tenant][sequence_id][0]])
        elif action == "enroll_many":
            db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, enrolled_by_id, status,"
                       " sequence_id, current_step_id)"
                       " SELECT tenant_id, id, ?, 'active', ?, ? FROM contacts_contact WHERE tenant_id = ?",
                       [member, sequence_id, _a_step(rng, tenant, sequence_id), tenant])
        elif action == "next_step" and enrollments:  # the processor moves one on, or it finishes
            db.execute("UPDATE sequences_enrollment SET current_step_id = ?, next_run_at = 'later' WHERE id = ?",
                       [_a_step(rng, tenant, sequence_id), rng.choice(enrollments)])
        elif action == "step_gone":  # SET_NULL when a step is deleted
            gone = rng.choice(SEQUENCES[tenant][sequence_id])
            db.execute("UPDATE sequences_enrollment SET current_step_id = NULL WHERE current_step_id = ?", [gone])
        elif action == "restart" and enrollments:  # re-enrolled: status and step together
            db.execute("UPDATE sequences_enrollment SET status = 'active', current_step_id = ? WHERE id = ?",
                       [SEQUENCES[tenant][sequence_id][0], rng.choice(enrollments)])
        elif action == "status" and enrollments:
            db.execute("UPDATE sequences_enrollment SET status = ? WHERE id = ?",
                       [rng.choice(STATUSES), rng.choice(enrollments)])
        elif action == "status_many":
            db.execute("UPDATE sequences_enrollment SET status = ? WHERE tenant_id = ? AND status = ?",
                       [rng.choice(STATUSES), tenant, rng.choice(STATUSES)])
        elif action == "lease":  # the processor's writes that change no figure
            db.execute("UPDATE sequences_enrollment SET next_run_at = 'soon' WHERE tenant_id = ?", [tenant])
        elif action == "owner":
            db.execute("UPDATE contacts_contact SET owner_id = ? WHERE id = ?", [member, rng.choice(contacts)])
        elif action == "owner_many":
            db.execute("UPDATE contacts_contact SET owner_id = ? WHERE tenant_id = ?", [member, tenant])
        elif action == "member_gone":  # SET_NULL when a user is deleted
            gone = rng.choice(USERS[tenant])
            db.execute("UPDATE sequences_enrollment SET enrolled_by_id = NULL WHERE enrolled_by_id = ?", [gone])
            db.execute("UPDATE contacts_contact SET owner_id = NULL WHERE owner_id = ?", [gone])
        elif action == "delete" and enrollments:
            db.execute("DELETE FROM sequences_enrollment WHERE id = ?", [rng.choice(enrollments)])
        elif action == "delete_contact":  # its enrollments go first, as Django deletes
            gone = rng.choice(contacts)
            db.execute("DELETE FROM sequences_enrollment WHERE contact_id = ?", [gone])
            db.execute("DELETE FROM contacts_contact WHERE id = ?", [gone])


def test_sqlite_triggers_keep_the_tallies_equal_to_a_recount():
    db, rng = _database(), random.Random(7)

    _workload(db, rng, steps=400)

    recount = _recount(db)
    assert len({status for _, _, status in recount}) >= 3  # a real mix
    assert any(tenant == 2 for tenant, _, _ in recount)  # the outsider's rows exist, under their tenant
    assert _tallies(db) == recount
    by_sequence = _sequence_recount(db)
    assert len({step for _, _, step, _ in by_sequence}) >= 4  # several steps, and none
    assert any(tenant == 2 for tenant, _, _, _ in by_sequence)
    assert _sequence_tallies(db) == by_sequence


def test_the_migrations_count_of_existing_enrollments_works_on_sqlite():
    db, rng = _database(), random.Random(4)
    _workload(db, rng, steps=200)
    db.execute("DELETE FROM sequences_enrollmenttally")
    db.execute("DELETE FROM sequences_sequencetally")

    db.execute(BACKFILL)
    db.execute(SEQUENCE_BACKFILL)

    assert _tallies(db) == _recount(db)
    assert _sequence_tallies(db) == _sequence_recount(db)


def _trigger_names(db):
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def test_after_a_table_rebuild_the_restore_puts_back_both_tallies_triggers():
    from sequences.tally_triggers import create_sqlite_triggers

    db = _database()
    for name in _trigger_names(db):  # as after SQLite copied the enrollment table to alter it
        db.execute(f"DROP TRIGGER {name}")

    create_sqlite_triggers(db, {"sequences_enrollmenttally", "sequences_sequencetally"})

    assert {"sequences_enrollment_tally_update", "sequences_sequence_tally_insert",
            "sequences_sequence_tally_update", "sequences_sequence_tally_delete"} <= _trigger_names(db)
    db.execute("INSERT INTO contacts_contact (tenant_id, owner_id) VALUES (1, 1)")
    db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, status, sequence_id, current_step_id)"
               " VALUES (1, 1, 'active', 10, 101)")
    assert _sequence_tallies(db) == {(1, 10, 101, "active"): 1}


def test_the_restore_leaves_out_the_sequence_triggers_when_their_table_is_gone():
    """Migrated back before 0012: a trigger writing to a missing table would make every
    enrollment write fail."""
    from sequences.tally_triggers import create_sqlite_triggers

    db = _database()
    for name in _trigger_names(db):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE sequences_sequencetally")

    create_sqlite_triggers(db, {"sequences_enrollmenttally"})

    assert not {n for n in _trigger_names(db) if n.startswith("sequences_sequence_tally")}
    db.execute("INSERT INTO contacts_contact (tenant_id, owner_id) VALUES (1, 1)")
    db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, status, sequence_id) VALUES (1, 1, 'active', 10)")
    assert _tallies(db) == {(1, 1, "active"): 1}
