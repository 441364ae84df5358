function t(n){n!==window.location.pathname+window.location.search+window.location.hash&&(window.history.pushState(null,"",n),window.dispatchEvent(new PopStateEvent("popstate")))}export{t as a};
