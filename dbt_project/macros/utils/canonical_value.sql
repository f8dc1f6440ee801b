{#-
    Trim a text value and map it, case-insensitively, onto one of `values` spelled as given
    (" mobile" -> "Mobile", "smart tv" -> "Smart TV", "hd" -> "HD"). A value that matches none
    of them is returned trimmed, unchanged, so that the row rules can name it.
-#}
{% macro canonical_value(column, values) -%}
    case lower(trim({{ column }}))
        {%- for value in values %}
        when '{{ value | lower }}' then '{{ value }}'
        {%- endfor %}
        else trim({{ column }})
    end
{%- endmacro %}


{#- A SQL list literal of strings: ('a', 'b'). -#}
{% macro sql_list(values) -%}
    ({%- for value in values -%}'{{ value }}'{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}
