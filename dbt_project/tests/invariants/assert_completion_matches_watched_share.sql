{#-
    Invariant of the export: completion_percentage is 100 x watch_minutes / content length within
    a few points. Tolerance: var('completion_tolerance_points'); docs/dbt.md gives the measured gap.
    Fails with the sessions further off than the tolerance.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

gaps as (
    select
        session_id,
        completion_percentage,
        watch_minutes,
        content_length_minutes,
        abs(
            cast(completion_percentage as {{ dbt.type_numeric() }})
            - 100 * cast(watch_minutes as {{ dbt.type_numeric() }})
            / cast(content_length_minutes as {{ dbt.type_numeric() }})
        ) as gap_points
    from sessions
)

select *
from gaps
where gap_points > {{ var('completion_tolerance_points') }}
