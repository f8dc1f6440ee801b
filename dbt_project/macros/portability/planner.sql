{#-
    Pre-hook, PostgreSQL only (nothing elsewhere): plan the model's joins without merge joins,
    for this model's transaction only (`set local`).

    The staging views compute their join keys (trim(user_id), trim(content_id), the source line
    cast to bigint), and PostgreSQL has no statistics for a computed key: it takes each for 200
    distinct values, so it expects the 2 M-row session log joined to 50 k users to return
    hundreds of millions of rows, and sorts the whole wide log (650 MB, twice) for merge joins.
    Hash joins read the log once. int_viewing_sessions_validated at scale 10 (same database,
    same load 21-24, two runs each): 67 and 71 s with the planner's merge joins, 32 and 38 s
    with hash joins (docs/performance.md).
-#}
{% macro without_merge_joins() -%}
    {%- if target.type == 'postgres' -%}
        set local enable_mergejoin = off
    {%- endif -%}
{%- endmacro %}


{#-
    A post-hook for a table whose new rows later nodes select by value (PostgreSQL): fresh
    column statistics, so that the planner's estimate for the newest value - a whole table after
    a full build, one day's rows after an appending one - is the real one. dbt does not analyze
    the tables it builds, and autovacuum's analyze may come a minute later.
-#}
{% macro refresh_planner_statistics() -%}
    {%- if target.type == 'postgres' -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
