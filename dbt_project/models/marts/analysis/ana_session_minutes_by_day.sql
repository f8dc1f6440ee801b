{#-
    Frequency table of watch minutes per day (grain watch_date x watch_minutes), with the
    sessions' summed completion: the weekday tables, the daily series and the log's period.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

final as (
    select
        watch_date,
        watch_minutes,
        count(*) as session_count,
        cast(
            sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as numeric(28, 6)
        ) as sum_completion_percentage
    from sessions
    group by watch_date, watch_minutes
)

select * from final
