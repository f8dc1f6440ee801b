{#-
    Question 5: completion by device (grain device_type), with a 95 % confidence interval for
    the mean: mean +/- z * s / sqrt(n), z = var('ci95_z') = 1.96 (normal approximation; every
    device has hundreds of sessions or more, where the t quantile is 1.96 to two decimals).
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

by_device as (
    select
        device_type,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        avg(cast(completion_percentage as {{ dbt.type_numeric() }})) as mean_completion_percentage,
        stddev_samp(cast(completion_percentage as {{ dbt.type_numeric() }})) as stddev_completion_percentage
    from sessions
    group by device_type
),

final as (
    select
        device_type,
        session_count,
        cast(
            cast(session_count as {{ dbt.type_numeric() }})
            / cast(sum(session_count) over () as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as share_of_sessions,
        total_watch_minutes,
        cast(mean_completion_percentage as numeric(18, 6)) as mean_completion_percentage,
        -- stddev_samp is numeric on PostgreSQL, double on Spark: the contract's scale makes them agree.
        cast(stddev_completion_percentage as numeric(18, 6)) as stddev_completion_percentage,
        cast(
            mean_completion_percentage
            - {{ var('ci95_z') }} * stddev_completion_percentage / sqrt(cast(session_count as {{ dbt.type_numeric() }}))
            as numeric(18, 6)
        ) as completion_ci95_lower,
        cast(
            mean_completion_percentage
            + {{ var('ci95_z') }} * stddev_completion_percentage / sqrt(cast(session_count as {{ dbt.type_numeric() }}))
            as numeric(18, 6)
        ) as completion_ci95_upper
    from by_device
)

select * from final
