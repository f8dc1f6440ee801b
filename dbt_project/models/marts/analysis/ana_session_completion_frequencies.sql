{#-
    Frequency table of completion over every session (grain completion_percentage), summed from
    the per-plan table (a session without a plan counts there under 'unknown'), not from the log.
-#}
with

completion_by_plan as (
    select * from {{ ref('ana_session_completion_by_plan') }}
),

final as (
    select
        completion_percentage,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count
    from completion_by_plan
    group by completion_percentage
)

select * from final
