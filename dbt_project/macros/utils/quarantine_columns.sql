{#-
    The four columns that say why a staged row is refused: quarantine_reason, quarantine_field,
    quarantine_value and quarantine_detail (all null for a clean row).

    `rules` is a list of mappings, checked in order; the first rule whose `when` holds names the
    row's single reason, so a row breaking several rules is counted once and the list order *is*
    the documented precedence. Each rule has:
        when    SQL condition that flags the row
        reason  reason code (the manifest's `kind`: duplicate_id, out_of_range, ...)
        field   the raw field to blame, as named in the source file
        value   SQL expression of the offending value (to_text() here)
        detail  SQL expression of text: what is wrong with the value
    A rule may instead carry `inherit: <prefix>`: when <prefix>_reason is not null, the row keeps
    the four <prefix>_* columns an upstream model already set (its reason keeps its place in the
    precedence).
-#}
{% macro quarantine_columns(rules) -%}
    {%- for output in ['reason', 'field', 'value', 'detail'] %}
        case
            {%- for rule in rules %}
            {%- if rule.get('inherit') %}
            when {{ rule['inherit'] }}_reason is not null then {{ rule['inherit'] }}_{{ output }}
            {%- else %}
            when {{ rule['when'] }} then
                {%- if output == 'reason' %} '{{ rule['reason'] }}'
                {%- elif output == 'field' %} '{{ rule['field'] }}'
                {%- elif output == 'value' %} {{ to_text(rule['value']) }}
                {%- else %} {{ rule['detail'] }}
                {%- endif %}
            {%- endif %}
            {%- endfor %}
        end as quarantine_{{ output }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- SQL text literal, for `detail` values that are fixed sentences. -#}
{% macro sql_text(sentence) -%}
    '{{ sentence | replace("'", "''") }}'
{%- endmacro %}
