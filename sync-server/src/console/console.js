// The console's only script (the content security policy allows no inline
// one). Every page works without it; it adds four things:
// * on a narrow screen the menu folds behind a button;
// * a button marked `data-print` prints the page;
// * a form marked `data-confirm` asks that question before it is sent;
// * a form the server refused (see `refusal.rs`) gets back what was typed,
//   with the server's message beside the field it names.
(function () {
  'use strict';

  // Narrow screens fold the menu (the stylesheet only does so once this
  // class says the button below can unfold it again).
  document.documentElement.classList.add('js');

  document.addEventListener('click', function (e) {
    var b = e.target.closest('[data-print]');
    if (b) { e.preventDefault(); window.print(); return; }
    var t = e.target.closest('#menu-toggle');
    if (t) {
      var open = t.closest('header').classList.toggle('open');
      t.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
  });

  document.addEventListener('submit', function (e) {
    var question = e.target.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { e.preventDefault(); }
  });

  function byName(form, name) {
    return Array.prototype.slice.call(
      form.querySelectorAll('[name="' + CSS.escape(name) + '"]'));
  }

  function formFor(action) {
    var forms = document.querySelectorAll('form[action]');
    for (var i = 0; i < forms.length; i++) {
      var a = new URL(forms[i].getAttribute('action'), location.href).pathname;
      if (a === action) { return forms[i]; }
    }
    return null;
  }

  // Puts the submitted values back: the n-th value of a name into the n-th
  // field of that name; checkboxes and options checked as they were sent.
  function restoreValues(form, pairs) {
    var sent = {};
    pairs.forEach(function (kv) { (sent[kv[0]] = sent[kv[0]] || []).push(kv[1]); });
    var names = {};
    Array.prototype.forEach.call(form.elements, function (el) { if (el.name) { names[el.name] = true; } });
    Object.keys(names).forEach(function (name) {
      var values = sent[name] || [];
      var text = 0;
      byName(form, name).forEach(function (el) {
        if (el.type === 'hidden' || el.type === 'file' || el.type === 'password' ||
            el.type === 'submit' || el.type === 'button') { return; }
        if (el.type === 'checkbox' || el.type === 'radio') {
          el.checked = values.indexOf(el.value) >= 0;
        } else if (el.tagName === 'SELECT' && el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) >= 0; });
        } else if (text < values.length) {
          el.value = values[text++];
        }
      });
    });
  }

  function showRefusal() {
    var box = document.getElementById('refused');
    if (!box) { return; }
    // The address of the page shown again, not of the refused POST: a
    // reload shows the page, and the next submission comes from it.
    history.replaceState(null, '', box.getAttribute('data-page'));
    var form = formFor(box.getAttribute('data-action'));
    if (!form) { return; }
    var pairs = [];
    try { pairs = JSON.parse(box.getAttribute('data-values') || '[]'); } catch (err) { pairs = []; }
    restoreValues(form, pairs);
    var message = document.getElementById('error');
    var name = box.getAttribute('data-field');
    var field = name ? byName(form, name)[0] : null;
    message.classList.add('field-error');
    if (field) {
      // After the field's group (a row of fields) or label, not inside it.
      (field.closest('.field-group') || field.closest('label') || field).insertAdjacentElement('afterend', message);
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', 'error');
      field.focus();
    } else {
      form.insertAdjacentElement('afterbegin', message);
      form.scrollIntoView();
    }
    box.remove();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', showRefusal);
  } else {
    showRefusal();
  }
}());
