{#-
    Nothing lost, nothing doubled: every staged user, content item and session is in the core or
    in audit.staging_quarantine, exactly once, and nothing is there without a staged row. (A core
    session whose raw row has gone - its batch was superseded by a corrected file - also fails
    here: rebuild with --full-refresh.)

    One pass: the staged and the placed rows are stacked and counted per (batch_id, source_line)
    - a batch is one file, so the pair names one staged row - in a single aggregation (no join
    of the two multi-million-row sides). A failing row says what is wrong in `problem`.

    Sessions: the loads int_viewing_sessions_validated's latest build wrote, and every placed
    row outside the older loads. A full build or a re-validation writes every load, so those
    builds check everything; an appending build checks the new loads' lines and any placed row
    whose batch is not an older staged one (a vanished batch still fails). The older loads'
    lines were proven when they were written, and an appending build neither re-places them
    (the core only takes rows the validation just wrote) nor removes them.
-#}
-- The validated sessions are read twice below, each time for what it needs: a CTE read twice
-- is materialized whole by PostgreSQL (every column of every session: 460 MB written to disk
-- at scale 10), and the first read then finds this build's rows through the
-- validation_load_id index instead of scanning.
with

-- The first sessions load the validation wrote in this build (the first of all after a full
-- build or a re-validation).
first_checked as (
    select min(load_id) as load_id
    from {{ ref('int_viewing_sessions_validated') }}
    where {{ written_this_run(ref('int_viewing_sessions_validated')) }}
),

-- Sessions batches proven by an earlier build (none after a full build or a re-validation).
proven_session_batches as (
    select distinct batch_id
    from {{ ref('int_viewing_sessions_validated') }}
    where load_id < (select first_checked.load_id from first_checked)
),

staged as (
    select
        'users' as entity,
        batch_id,
        source_line
    from {{ ref('stg_streaming__users') }}
    union all
    select
        'content' as entity,
        batch_id,
        source_line
    from {{ ref('int_content_validated') }}
    union all
    select
        'viewing_sessions' as entity,
        batch_id,
        source_line
    from {{ ref('stg_streaming__viewing_sessions') }}
    where load_id >= (select first_checked.load_id from first_checked)
),

landed as (
    select
        'users' as place,
        batch_id,
        source_line
    from {{ ref('users') }}
    union all
    select
        'content' as place,
        batch_id,
        source_line
    from {{ ref('content') }}
    union all
    select
        'viewing_sessions' as place,
        batch_id,
        source_line
    from {{ ref('viewing_sessions') }}
    where batch_id not in (select proven.batch_id from proven_session_batches as proven)
    union all
    select
        'quarantine' as place,
        batch_id,
        source_line
    from {{ ref('staging_quarantine') }}
    where batch_id not in (select proven.batch_id from proven_session_batches as proven)
),

stacked as (
    select
        entity,
        cast(null as {{ dbt.type_string() }}) as place,
        batch_id,
        source_line
    from staged
    union all
    select
        cast(null as {{ dbt.type_string() }}) as entity,
        place,
        batch_id,
        source_line
    from landed
),

-- entity and place are only read where the row was staged / placed once
counted as (
    select
        batch_id,
        source_line,
        count(entity) as times_staged,
        count(place) as times_placed,
        max(entity) as entity,
        max(place) as place
    from stacked
    group by batch_id, source_line
),

compared as (
    select
        coalesce(entity, place) as entity,
        batch_id,
        source_line,
        times_placed,
        case
            when times_staged = 0 then {{ dbt.concat(["'in '", "place", "' without a staged row'"]) }}
            when times_placed = 0 then 'neither in the core nor in the quarantine'
            when times_placed > 1 then 'placed more than once'
            when place not in (entity, 'quarantine') then 'in the wrong core table'
        end as problem
    from counted
)

select * from compared
where problem is not null
