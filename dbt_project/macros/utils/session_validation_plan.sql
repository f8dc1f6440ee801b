{#-
    How int_viewing_sessions_validated builds this run: append only the sessions loads newer
    than the ones it holds, or re-validate every staged session.

    Appending is right only when nothing the earlier rows were validated against changed: the
    users and content snapshots are the ones recorded in the table (users_load_id,
    content_load_id), and every staged session the table holds is still staged (a corrected
    re-export of a sessions file deletes the batch it replaces). Otherwise - and on the first
    build or --full-refresh - every staged session is validated again.

    Returns {'append': bool, 'after_load_id': the newest sessions load already validated}.
-#}
{% macro session_validation_plan() -%}
    {#- `this` is none in a unit test, which validates its given rows from scratch. -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return({'append': false, 'after_load_id': none}) }}
    {%- endif -%}
    {%- set held_query -%}
        select
            max(load_id) as last_load_id,
            max(users_load_id) as users_load_id,
            max(content_load_id) as content_load_id,
            count(*) as held_rows
        from {{ this }}
    {%- endset -%}
    {%- set held = run_query(held_query).rows[0] -%}
    {%- if held['last_load_id'] is none -%}
        {{ return({'append': false, 'after_load_id': none}) }}
    {%- endif -%}
    {%- set current_query -%}
        select
            (select max(load_id) from {{ ref('stg_streaming__users') }}) as users_load_id,
            (select max(load_id) from {{ ref('int_content_validated') }}) as content_load_id,
            (select count(*) from {{ ref('stg_streaming__viewing_sessions') }}
             where load_id <= {{ held['last_load_id'] }}) as staged_rows
    {%- endset -%}
    {%- set current = run_query(current_query).rows[0] -%}
    {%- set unchanged = current['users_load_id'] == held['users_load_id']
        and current['content_load_id'] == held['content_load_id']
        and current['staged_rows'] == held['held_rows'] -%}
    {{ return({'append': unchanged, 'after_load_id': held['last_load_id']}) }}
{%- endmacro %}


{#- Pre-hook of the validated sessions: empty the table before a run that re-validates everything. -#}
{% macro empty_unless_appending(plan) -%}
    {%- if this is not none and is_incremental() and not plan['append'] -%}
        truncate table {{ this }}
    {%- endif -%}
{%- endmacro %}
