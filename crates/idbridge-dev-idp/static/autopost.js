// Posts the signed SAMLResponse to the SP's ACS as soon as the page loads (the
// HTTP-POST binding). The page's button does the same without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-response");
  if (form && form.dataset.autopost === "true") {
    form.submit();
  }
});
