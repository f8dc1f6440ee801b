{#-
    Nothing lost, nothing doubled: every staged user, content item and session is in the core or
    in audit.staging_quarantine, exactly once, and nothing is there without a staged row. (A core
    session whose raw row has gone - its batch was superseded by a corrected file - also fails
    here: rebuild with --full-refresh.)

    One pass: the placed rows are counted per (batch_id, source_line) - a batch is one file, so
    the pair names one staged row - and the counts are full-outer-joined to the staged rows. A
    failing row says what is wrong in `problem`.

    Sessions: the loads int_viewing_sessions_validated's latest build wrote, and every placed
    row outside the older loads. A full build or a re-validation writes every load, so those
    builds check everything; an appending build checks the new loads' lines and any placed row
    whose batch is not an older staged one (a vanished batch still fails). The older loads'
    lines were proven when they were written, and an appending build neither re-places them
    (the core only takes rows the validation just wrote) nor removes them.
-#}
with

validated as (
    select * from {{ ref('int_viewing_sessions_validated') }}
),

-- The first sessions load the validation wrote in this build (the first of all after a full
-- build or a re-validation).
first_checked as (
    select min(load_id) as load_id
    from validated
    where {{ written_this_run(ref('int_viewing_sessions_validated')) }}
),

-- Sessions batches proven by an earlier build (none after a full build or a re-validation).
proven_session_batches as (
    select distinct batch_id
    from validated
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

-- place is only read where the row was placed once
placements as (
    select
        batch_id,
        source_line,
        count(*) as times_placed,
        max(place) as place
    from landed
    group by batch_id, source_line
),

compared as (
    select
        coalesce(staged.entity, placements.place) as entity,
        coalesce(staged.batch_id, placements.batch_id) as batch_id,
        coalesce(staged.source_line, placements.source_line) as source_line,
        coalesce(placements.times_placed, 0) as times_placed,
        case
            when staged.batch_id is null then {{ dbt.concat(["'in '", "placements.place", "' without a staged row'"]) }}
            when placements.batch_id is null then 'neither in the core nor in the quarantine'
            when placements.times_placed > 1 then 'placed more than once'
            when placements.place not in (staged.entity, 'quarantine') then 'in the wrong core table'
        end as problem
    from staged
    full outer join placements
        on staged.batch_id = placements.batch_id
        and staged.source_line = placements.source_line
)

select * from compared
where problem is not null
