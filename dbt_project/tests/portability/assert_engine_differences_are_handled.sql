{#-
    The silent differences between PostgreSQL and Spark (SPARK_NOTES.md), each through the macro
    or clause the models use for it, on fixed values: every row returned is a difference that
    came back on this engine. The same expected text on both engines is PostgreSQL's answer.
    The landing's decimal type is the engine's (PostgreSQL: unconstrained numeric; Spark: the
    landing's decimal(38, 15)).
-#}
{%- set landing_decimal = 'decimal(38, 15)' if target.type == 'spark' else 'numeric' -%}
{%- set timestamp_type = 'timestamp' if target.type == 'spark' else 'timestamptz' -%}

with

checks as (
    select
        'decimal as text keeps the written scale' as difference,
        {{ to_text("cast('58.5' as " ~ landing_decimal ~ ")") }} as actual,
        '58.5' as expected

    union all

    select
        'a whole decimal as text keeps one decimal' as difference,
        {{ to_text("cast('100.0' as " ~ landing_decimal ~ ")") }} as actual,
        '100.0' as expected

    union all

    select
        'timestamp as text carries the UTC offset' as difference,
        {{ to_text("cast('2024-05-06 07:08:09.5' as " ~ timestamp_type ~ ")") }} as actual,
        '2024-05-06 07:08:09.5+00' as expected

    union all

    select
        'double quotes are escaped with one backslash' as difference,
        {{ escape_double_quotes("'say \"hi\"'") }} as actual,
        {{ dbt.concat(["'say '", "chr(92)", "'\"hi'", "chr(92)", "'\"'"]) }} as expected

    union all

    select
        'ordered_listagg keeps the order' as difference,
        listed.actual,
        '3, 1, 2' as expected
    from (
        select {{ ordered_listagg('item', "', '", 'item_position') }} as actual
        from (
            select
                '2' as item,
                3 as item_position
            union all
            select
                '3' as item,
                1 as item_position
            union all
            select
                '1' as item,
                2 as item_position
        ) as items
    ) as listed

    union all

    select
        'desc nulls last puts nulls last' as difference,
        {{ dbt.concat(["cast(ranked.ranked_value as " ~ dbt.type_string() ~ ")", "'@'",
                       "cast(ranked.value_rank as " ~ dbt.type_string() ~ ")"]) }} as actual,
        '5@1' as expected
    from (
        select
            sample_value as ranked_value,
            row_number() over (
                order by sample_value desc nulls last
            ) as value_rank
        from (
            select cast(null as integer) as sample_value
            union all
            select 5 as sample_value
        ) as samples
    ) as ranked
    where ranked.value_rank = 1
)

select *
from checks
where actual is null or actual <> expected
