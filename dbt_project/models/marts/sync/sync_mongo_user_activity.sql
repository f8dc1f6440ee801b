{#-
    The monthly_activity sub-documents of the MongoDB user_analytics documents (grain user_id x
    activity_month): one row per month a user watched in.
-#}
with

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

final as (
    select
        user_id,
        activity_month,
        cast(session_count as {{ dbt.type_bigint() }}) as session_count,
        cast(total_watch_minutes as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(sum_completion_percentage as {{ dbt.type_float() }}) as sum_completion_percentage,
        cast(sum_completion_percentage as {{ dbt.type_float() }})
        / cast(session_count as {{ dbt.type_float() }}) as mean_completion_percentage
    from user_months
)

select * from final
