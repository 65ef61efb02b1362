// Certificate Templates -> Create Template: pick a starter (TPL-1), name it, then edit.
import { get, post } from '../api.js';
import { h, field, input, messageBox, busy, pageHead, toast } from '../ui.js';

export async function render({ main, ca, navigate }) {
  const { starters } = await get('/template-starters');
  const msg = messageBox();
  const name = input('name', { maxlength: 64, autocomplete: 'off' });
  const group = 'starter';
  const radios = starters.map((s, i) => {
    const id = `starter-${i}`;
    const eku = (s.settings.extended_key_usage || []).join(', ');
    return h('div', { class: 'field check' },
      h('input', { type: 'radio', name: group, id, value: s.name, checked: i === 0,
        onchange: () => { if (!name.dataset.touched) name.value = s.name; } }),
      h('label', { for: id }, s.name),
      h('p', { class: 'help' }, [s.settings.is_ca ? 'CA certificate' : (eku || 'no extended key usage'), `${s.settings.validity_days} days`].join(' · ')));
  });
  name.value = starters.length ? starters[0].name : '';
  name.addEventListener('input', () => { name.dataset.touched = '1'; });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create Template');
  const form = h('form', { class: 'card', novalidate: true }, msg.el,
    h('fieldset', {}, h('legend', {}, 'Starter template'), radios),
    field('Template name', name, `Unique among the templates of ${ca.name}.`),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const starter = form.querySelector(`input[name=${group}]:checked`);
    if (!name.value.trim()) { msg.error(new Error('Give the template a name.')); name.focus(); return; }
    busy(submit, msg, async () => {
      const t = await post(`/cas/${ca.id}/templates`, { name: name.value.trim(), starter: starter ? starter.value : undefined });
      toast(`Template ${t.name} created`);
      navigate(`/templates/${t.id}?show=edit`);
    });
  });
  main.append(pageHead('Create Template'), h('p', {}, 'For ', h('strong', {}, ca.name), '. Start from a starter template, then adjust it.'), form);
}
