{#-
    Frequency table of watch minutes over every session (grain watch_minutes), summed from the
    per-plan table (a session without a plan counts there under 'unknown'), not from the log.
-#}
with

minutes_by_plan as (
    select * from {{ ref('ana_session_minutes_by_plan') }}
),

final as (
    select
        watch_minutes,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count
    from minutes_by_plan
    group by watch_minutes
)

select * from final
