"""preview -> confirm -> execute -> verify -> log: plan, approval, change, lock."""
