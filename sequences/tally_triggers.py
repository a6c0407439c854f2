"""The SQL of the enrollment tallies' triggers (models.EnrollmentTally, by user, and
models.SequenceTally, by sequence and step), as migration 0012 installs them, shared
with the app's post-migrate check, which puts the SQLite ones back after a migration
rebuilt a table (SQLite alters a table by copying it, and the copy has no triggers).
Migrations keep their own copy of the SQL they ran: a change here needs a migration."""

# One enrollment row set's contributions: one row per distinct user among the
# contact's owner and the enrolling user.
PG_CONTRIBUTIONS = """
    SELECT r.tenant_id, v.user_id, r.status, {sign} AS delta
    FROM (
        -- The owner by primary key, row by row: as a join, the planner (which cannot know
        -- how many rows a statement changed) may scan every contact to hash it.
        -- OFFSET 0 keeps the lookup one per row instead of one per use below.
        SELECT x.tenant_id, x.status, x.enrolled_by_id,
               (SELECT c.owner_id FROM contacts_contact c WHERE c.id = x.contact_id) AS owner_id
        FROM {rows} x OFFSET 0
    ) r
    CROSS JOIN LATERAL (VALUES (r.owner_id),
        (CASE WHEN r.enrolled_by_id IS DISTINCT FROM r.owner_id THEN r.enrolled_by_id END)) v(user_id)
    WHERE v.user_id IS NOT NULL
"""

PG_APPEND = """
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, SUM(delta) FROM ({changes}) changes
    GROUP BY tenant_id, user_id, status HAVING SUM(delta) <> 0;
"""

# The rows whose tally key (status, tenant, contact, enrolling user) an UPDATE changed,
# as they were (`gone`) and as they are (`came`); any other change (lease, next run,
# step) cancels out. A set difference, hashed: a join of the two transition tables,
# whose sizes the planner guesses, was planned as a nested loop, 1,000 × 1,000
# comparisons for one batch of the processor.
PG_KEY = "SELECT id, tenant_id, contact_id, enrolled_by_id, status FROM {}"
PG_GONE = f"{PG_KEY.format('old_rows')} EXCEPT ALL {PG_KEY.format('new_rows')}"
PG_CAME = f"{PG_KEY.format('new_rows')} EXCEPT ALL {PG_KEY.format('old_rows')}"

# A row that newly points at a contact (inserted, or moved by a merge) holds the lock its
# foreign-key check takes at commit, now, before the owner is read: a concurrent owner
# change of that contact (FOR UPDATE, below) then waits for this transaction, or this
# one for it, and reads the owner after it.
PG_KEY_SHARE = """
    PERFORM 1 FROM contacts_contact WHERE id = ANY(ARRAY(SELECT contact_id FROM ({rows}) k)) ORDER BY id
        FOR KEY SHARE;
"""

# The per-sequence tallies: one change per (tenant, sequence, current step, status),
# read from the transition tables alone (no owner to look up). For an UPDATE, the rows
# whose key changed, as set differences for the same reason as PG_GONE; the processor's
# batches move steps, so most of their rows do count here.
PG_SEQUENCE_KEY = "SELECT id, tenant_id, sequence_id, current_step_id, status FROM {}"
PG_SEQUENCE_GONE = f"{PG_SEQUENCE_KEY.format('old_rows')} EXCEPT ALL {PG_SEQUENCE_KEY.format('new_rows')}"
PG_SEQUENCE_CAME = f"{PG_SEQUENCE_KEY.format('new_rows')} EXCEPT ALL {PG_SEQUENCE_KEY.format('old_rows')}"
PG_SEQUENCE_ROWS = "SELECT tenant_id, sequence_id, current_step_id, status, {sign} AS delta FROM ({rows}) r"

PG_SEQUENCE_APPEND = """
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, SUM(delta) FROM ({changes}) changes
    GROUP BY tenant_id, sequence_id, current_step_id, status HAVING SUM(delta) <> 0;
"""

PG_ENROLLMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION sequences_enrollment_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {insert_lock}
        {insert}
        {sequence_insert}
    ELSIF TG_OP = 'DELETE' THEN
        {delete}
        {sequence_delete}
    ELSE
        {update_lock}
        {update}
        {sequence_update}
    END IF;
    RETURN NULL;
END $$;
""".format(
    insert_lock=PG_KEY_SHARE.format(rows="SELECT contact_id FROM new_rows"),
    update_lock=PG_KEY_SHARE.format(
        rows="SELECT id, contact_id FROM new_rows EXCEPT SELECT id, contact_id FROM old_rows"),
    insert=PG_APPEND.format(changes=PG_CONTRIBUTIONS.format(rows="new_rows", sign=1)),
    delete=PG_APPEND.format(changes=PG_CONTRIBUTIONS.format(rows="old_rows", sign=-1)),
    update=PG_APPEND.format(changes=(
        PG_CONTRIBUTIONS.format(rows=f"({PG_GONE})", sign=-1) + " UNION ALL "
        + PG_CONTRIBUTIONS.format(rows=f"({PG_CAME})", sign=1)
    )),
    sequence_insert=PG_SEQUENCE_APPEND.format(changes=PG_SEQUENCE_ROWS.format(rows="TABLE new_rows", sign=1)),
    sequence_delete=PG_SEQUENCE_APPEND.format(changes=PG_SEQUENCE_ROWS.format(rows="TABLE old_rows", sign=-1)),
    sequence_update=PG_SEQUENCE_APPEND.format(changes=(
        PG_SEQUENCE_ROWS.format(rows=PG_SEQUENCE_GONE, sign=-1) + " UNION ALL "
        + PG_SEQUENCE_ROWS.format(rows=PG_SEQUENCE_CAME, sign=1)
    )),
)

# An owner change moves the contact's enrollments from the old owner to the new one.
# A contact's owner as it was (`gone`) and is (`came`), for the contacts whose owner
# changed: set differences, hashed, as for enrollments (see PG_GONE).
PG_OWNER_GONE = "SELECT id, owner_id FROM old_rows EXCEPT ALL SELECT id, owner_id FROM new_rows"
PG_OWNER_CAME = "SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows"

# One side of the move: the contacts' enrollments, found by index (= ANY(ARRAY(…)):
# whatever the planner guesses of the batch), counted for that owner unless the
# enrolling user is that owner, in which case they count through enrolled_by anyway.
PG_OWNER_SIDE = """
    SELECT e.tenant_id, m.owner_id AS user_id, e.status, {sign} AS delta
    FROM sequences_enrollment e JOIN ({moved}) m ON m.id = e.contact_id
    WHERE e.contact_id = ANY(ARRAY(SELECT id FROM ({moved}) k))
      AND m.owner_id IS NOT NULL AND e.enrolled_by_id IS DISTINCT FROM m.owner_id
"""

PG_CONTACT_FUNCTION = """
CREATE OR REPLACE FUNCTION sequences_contact_owner_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS ({came}) THEN
        RETURN NULL;  -- most contact updates leave the owner alone
    END IF;
    PERFORM 1 FROM contacts_contact WHERE id = ANY(ARRAY(SELECT id FROM ({came}) m)) ORDER BY id FOR UPDATE;
    PERFORM 1 FROM sequences_enrollment WHERE contact_id = ANY(ARRAY(SELECT id FROM ({came}) m))
        ORDER BY id FOR SHARE;
    {append}
    RETURN NULL;
END $$;
""".format(
    came=PG_OWNER_CAME,
    append=PG_APPEND.format(changes=(
        PG_OWNER_SIDE.format(moved=PG_OWNER_GONE, sign=-1) + " UNION ALL "
        + PG_OWNER_SIDE.format(moved=PG_OWNER_CAME, sign=1)
    )),
)

PG_TRIGGERS = [
    "CREATE TRIGGER sequences_enrollment_tally_insert AFTER INSERT ON sequences_enrollment"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_enrollment_tally()",
    "CREATE TRIGGER sequences_enrollment_tally_delete AFTER DELETE ON sequences_enrollment"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_enrollment_tally()",
    "CREATE TRIGGER sequences_enrollment_tally_update AFTER UPDATE ON sequences_enrollment"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION sequences_enrollment_tally()",
    "CREATE TRIGGER sequences_contact_owner_tally AFTER UPDATE ON contacts_contact"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION sequences_contact_owner_tally()",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS sequences_contact_owner_tally ON contacts_contact",
    "DROP TRIGGER IF EXISTS sequences_enrollment_tally_update ON sequences_enrollment",
    "DROP TRIGGER IF EXISTS sequences_enrollment_tally_delete ON sequences_enrollment",
    "DROP TRIGGER IF EXISTS sequences_enrollment_tally_insert ON sequences_enrollment",
    "DROP FUNCTION IF EXISTS sequences_contact_owner_tally()",
    "DROP FUNCTION IF EXISTS sequences_enrollment_tally()",
]

# SQLite: one row at a time; UNION makes the owner and the enrolling user one user
# when they are the same.
SQLITE_ROW = """
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT {r}.tenant_id, u, {r}.status, {sign} FROM (
        SELECT owner_id AS u FROM contacts_contact WHERE id = {r}.contact_id
        UNION SELECT {r}.enrolled_by_id
    ) WHERE u IS NOT NULL;
"""


def _sqlite_enrollment_triggers(name, row, changed):
    """Row triggers on enrollments named `name`_insert, _delete and _update that write
    `row` (a tally row of NEW or OLD, signed); the update one only when a column of
    `changed` changed, as it is the one a tally is keyed by."""
    when = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in changed)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON sequences_enrollment BEGIN"
        + row.format(r="NEW", sign=1) + "END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON sequences_enrollment BEGIN"
        + row.format(r="OLD", sign=-1) + "END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE ON sequences_enrollment WHEN {when} BEGIN"
        + row.format(r="OLD", sign=-1) + row.format(r="NEW", sign=1) + "END",
    ]


SQLITE_TRIGGERS = _sqlite_enrollment_triggers(
    "sequences_enrollment_tally", SQLITE_ROW, ("status", "tenant_id", "contact_id", "enrolled_by_id"),
) + [
    """CREATE TRIGGER IF NOT EXISTS sequences_contact_owner_tally AFTER UPDATE OF owner_id ON contacts_contact
    WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN
        INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
        SELECT e.tenant_id, OLD.owner_id, e.status, -1 FROM sequences_enrollment e
        WHERE e.contact_id = NEW.id AND OLD.owner_id IS NOT NULL AND e.enrolled_by_id IS NOT OLD.owner_id;
        INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
        SELECT e.tenant_id, NEW.owner_id, e.status, 1 FROM sequences_enrollment e
        WHERE e.contact_id = NEW.id AND NEW.owner_id IS NOT NULL AND e.enrolled_by_id IS NOT NEW.owner_id;
    END""",
]

# The per-sequence tallies on SQLite: triggers of their own, since their update fires on
# other columns (the current step and the sequence) than the owner tallies' one.
SQLITE_SEQUENCE_ROW = """
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    VALUES ({r}.tenant_id, {r}.sequence_id, {r}.current_step_id, {r}.status, {sign});
"""

SQLITE_SEQUENCE_TRIGGERS = _sqlite_enrollment_triggers(
    "sequences_sequence_tally", SQLITE_SEQUENCE_ROW, ("status", "tenant_id", "sequence_id", "current_step_id"),
)

# The enrollments there are already, one row per (tenant, user, status); portable SQL.
BACKFILL = """
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, COUNT(*) FROM (
        SELECT e.tenant_id, c.owner_id AS user_id, e.status
        FROM sequences_enrollment e JOIN contacts_contact c ON c.id = e.contact_id
        WHERE c.owner_id IS NOT NULL
        UNION ALL
        SELECT e.tenant_id, e.enrolled_by_id, e.status
        FROM sequences_enrollment e LEFT JOIN contacts_contact c ON c.id = e.contact_id
        WHERE e.enrolled_by_id IS NOT NULL AND (c.owner_id IS NULL OR c.owner_id <> e.enrolled_by_id)
    ) mine GROUP BY tenant_id, user_id, status
"""


# The enrollments there are already, one row per (tenant, sequence, step, status).
SEQUENCE_BACKFILL = """
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, COUNT(*) FROM sequences_enrollment
    GROUP BY tenant_id, sequence_id, current_step_id, status
"""


def create_sqlite_triggers(cursor_or_editor, tables):
    """Create the SQLite triggers whose tally table is among `tables` (a database
    migrated back before 0012 has no per-sequence table, and its triggers would make
    every enrollment write fail)."""
    if "sequences_enrollmenttally" in tables:
        for statement in SQLITE_TRIGGERS:
            cursor_or_editor.execute(statement)
    if "sequences_sequencetally" in tables:
        for statement in SQLITE_SEQUENCE_TRIGGERS:
            cursor_or_editor.execute(statement)
