{#-
    Nothing lost, nothing doubled: every staged user, content item and session is in the core or
    in audit.staging_quarantine, exactly once. (A core session whose raw row has gone - its batch
    was superseded by a corrected file - also fails here: rebuild with --full-refresh.)
-#}
with

staged as (
    select 'users' as entity, batch_id, source_line from {{ ref('stg_streaming__users') }}
    union all
    select 'content' as entity, batch_id, source_line from {{ ref('int_content_validated') }}
    union all
    select 'viewing_sessions' as entity, batch_id, source_line from {{ ref('stg_streaming__viewing_sessions') }}
),

landed as (
    select 'users' as entity, batch_id, source_line, 'core' as place from {{ ref('users') }}
    union all
    select 'content' as entity, batch_id, source_line, 'core' as place from {{ ref('content') }}
    union all
    select 'viewing_sessions' as entity, batch_id, source_line, 'core' as place from {{ ref('viewing_sessions') }}
    union all
    select 'any' as entity, batch_id, source_line, 'quarantine' as place from {{ ref('staging_quarantine') }}
),

placements as (
    select
        staged.entity,
        staged.batch_id,
        staged.source_line,
        count(landed.place) as times_placed
    from staged
    left join landed
        on staged.batch_id = landed.batch_id
        and staged.source_line = landed.source_line
        and (landed.entity = staged.entity or landed.entity = 'any')
    group by staged.entity, staged.batch_id, staged.source_line
),

orphans as (
    -- core rows whose staged row no longer exists
    select
        landed.entity,
        landed.batch_id,
        landed.source_line,
        0 as times_placed
    from landed
    left join staged
        on landed.batch_id = staged.batch_id
        and landed.source_line = staged.source_line
    where staged.batch_id is null
)

select * from placements where times_placed <> 1
union all
select * from orphans
